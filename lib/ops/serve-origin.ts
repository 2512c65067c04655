import { readConfig } from "@/lib/config";
import { errorResponse } from "@/lib/http";

/**
 * Where Inngest Cloud is told to call this app (app/api/inngest/route.ts). Never the request's own
 * Host: an unsigned `PUT /api/inngest` naming `Host: attacker.example` would otherwise register
 * `http://attacker.example/api/inngest` as the app, and send every function call there. It is
 * INNGEST_SERVE_ORIGIN (the SDK's own variable), or on Vercel the deployment's own URL: the
 * project's production URL in production, the branch or deployment URL in previews.
 */
export function inngestServeOrigin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env.INNGEST_SERVE_ORIGIN?.trim();
  if (explicit) return explicit;
  const onVercel = (env.VERCEL !== undefined && env.VERCEL !== "0" && env.VERCEL !== "") || Boolean(env.VERCEL_ENV);
  if (!onVercel) return undefined;
  const host =
    env.VERCEL_ENV === "production"
      ? env.VERCEL_PROJECT_PRODUCTION_URL || env.VERCEL_URL
      : env.VERCEL_BRANCH_URL || env.VERCEL_URL;
  return host?.trim() ? `https://${host.trim()}` : undefined;
}

export const SERVE_ORIGIN_MISSING =
  "INNGEST_SERVE_ORIGIN is not set, so an unsigned registration (PUT /api/inngest) would register whatever host the request names: set INNGEST_SERVE_ORIGIN to this app's public origin (e.g. https://batchwatch.example.com), or sync the app from the Inngest dashboard (a signed, in-band sync)";

/**
 * The refusal of a `PUT /api/inngest` that would take its URL from the request, or null to let the
 * SDK handle it: in dev mode (the local dev server), with a serve origin configured, or for an
 * in-band sync, whose URL comes in a body the SDK verifies against INNGEST_SIGNING_KEY.
 */
export function refuseUnsafeRegistration(request: Request, env: NodeJS.ProcessEnv = process.env): Response | null {
  if (readConfig(env).inngest.mode === "dev") return null;
  if (inngestServeOrigin(env)) return null;
  const inBandAllowed = !["0", "false"].includes((env.INNGEST_ALLOW_IN_BAND_SYNC ?? "").trim().toLowerCase());
  if (inBandAllowed && request.headers.get("x-inngest-sync-kind") === "in_band") return null;
  return errorResponse("not_configured", SERVE_ORIGIN_MISSING);
}
