import type { Metadata } from "next";
import { cookies } from "next/headers";
import { redirect } from "next/navigation";
import { readSession, safeNextPath, SESSION_COOKIE_NAME } from "@/lib/auth/session";
import { readConfig } from "@/lib/config";
import { signInAction } from "@/app/actions";

export const metadata: Metadata = { title: "Sign in · batchwatch" };

type SearchParams = Record<string, string | string[] | undefined>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * Sign-in with an API key from BATCHWATCH_API_KEY. A plain form posting to a server action:
 * it works without JavaScript, and the key never reaches any client component.
 */
export default async function SignInPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  const next = safeNextPath(first(params.next));
  if (await readSession((await cookies()).get(SESSION_COOKIE_NAME)?.value)) redirect(next);

  const config = readConfig();
  const configured = Boolean(config.sessionSecret) && config.apiKeys.length > 0;
  const error = first(params.error);
  const invalid = error === "invalid";

  return (
    <main id="content" className="sign-in">
      <h1>Sign in to batchwatch</h1>
      {!configured || error === "not_configured" ? (
        <div className="notice notice-bad" role="alert">
          <p>
            The dashboard is not configured. Set <code>BATCHWATCH_API_KEY</code> (one or more comma-separated keys) and{" "}
            <code>BATCHWATCH_SESSION_SECRET</code> (a random string of at least 32 characters), then restart.
          </p>
        </div>
      ) : null}
      {error === "rate_limited" ? (
        <div className="notice notice-bad" role="alert">
          <p>Too many failed attempts from your address. Wait 10 minutes, then try again.</p>
        </div>
      ) : null}
      {params.signed_out ? (
        <p className="notice notice-ok" role="status">
          You are signed out.
        </p>
      ) : null}
      <form action={signInAction} className="stack">
        <input type="hidden" name="next" value={next} />
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="apiKey"
            type="password"
            required
            autoComplete="current-password"
            spellCheck={false}
            autoFocus
            aria-invalid={invalid || undefined}
            aria-describedby={invalid ? "api-key-error api-key-hint" : "api-key-hint"}
          />
          <span id="api-key-hint" className="hint">
            One of the keys in <code>BATCHWATCH_API_KEY</code>. You stay signed in for 12 hours.
          </span>
          {invalid ? (
            <span id="api-key-error" className="text-bad" role="alert">
              That API key is not valid.
            </span>
          ) : null}
        </div>
        <button type="submit" className="button button-primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
