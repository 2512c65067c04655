import "server-only";
import { readConfig } from "@/lib/config";
import { getDb, type Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";

/**
 * Throttling of failed authentication (a wrong API key, a wrong sign-in). After
 * {@link MAX_AUTH_FAILURES} failures from one client within {@link AUTH_FAILURE_WINDOW_MS},
 * further attempts from it are refused with `rate_limited` (429, `Retry-After`) until the oldest of
 * those failures leaves the window — correct keys too, or guessing would go on at full speed.
 * Failures are counted in Postgres (`auth_failures`), so the limit holds across instances.
 */

export const MAX_AUTH_FAILURES = 10;
export const AUTH_FAILURE_WINDOW_MS = 10 * 60_000;

/** Headers as the route or proxy sees them. */
type WithHeaders = { headers: Pick<Headers, "get"> };

/**
 * Who is attempting. On Vercel, the platform's own `X-Vercel-Forwarded-For` (or `X-Real-IP`),
 * which a client cannot set. Behind a proxy you run (`BATCHWATCH_TRUSTED_PROXY=1`), the last hop
 * of `X-Forwarded-For`, which that proxy appends. Otherwise the socket address: Next 16 gives
 * route handlers and the proxy no socket, but puts its address in `X-Forwarded-For` when the
 * request carries none (a client that sends the header itself picks its own bucket there: put a
 * proxy in front and set the flag, see docs/security.md).
 */
export function authClient(request: WithHeaders): string {
  const config = readConfig();
  const header = (name: string) => request.headers.get(name)?.trim() || undefined;
  if (config.onVercel) {
    const platform = header("x-vercel-forwarded-for")?.split(",")[0]?.trim() || header("x-real-ip");
    if (platform) return platform.toLowerCase();
  }
  const forwarded = header("x-forwarded-for");
  if (!forwarded) return "unknown";
  if (config.trustedProxy) return forwarded.split(",").at(-1)!.trim().toLowerCase();
  return forwarded.toLowerCase();
}

/** Seconds until `client` may try again, or null when it is not throttled. */
export async function authRetryAfterSeconds(client: string, now = Date.now(), db?: Queryable): Promise<number | null> {
  const database = db ?? (await getDb());
  const [row] = await database.query<{ at_ms: number | string }>(
    `SELECT (extract(epoch FROM at) * 1000)::float8 AS at_ms FROM auth_failures
      WHERE client = $1 AND at > $2 ORDER BY at DESC OFFSET $3 LIMIT 1`,
    [client, new Date(now - AUTH_FAILURE_WINDOW_MS), MAX_AUTH_FAILURES - 1],
  );
  if (!row) return null;
  return Math.max(1, Math.ceil((Number(row.at_ms) + AUTH_FAILURE_WINDOW_MS - now) / 1000));
}

/** Throws `rate_limited` when `client` has failed too often lately. */
export async function refuseThrottledClient(client: string, now = Date.now(), db?: Queryable): Promise<void> {
  const retryAfter = await authRetryAfterSeconds(client, now, db);
  if (retryAfter !== null) {
    throw new AppError(
      "rate_limited",
      `too many failed authentication attempts from this client: try again in ${retryAfter} s`,
      { retryAfterSeconds: retryAfter },
    );
  }
}

/** Records one failed attempt by `client`, clearing failures that have left the window. */
export async function recordAuthFailure(client: string, now = Date.now(), db?: Queryable): Promise<void> {
  const database = db ?? (await getDb());
  await database.query("DELETE FROM auth_failures WHERE at <= $1", [new Date(now - AUTH_FAILURE_WINDOW_MS)]);
  await database.query("INSERT INTO auth_failures (client, at) VALUES ($1, $2)", [client, new Date(now)]);
}
