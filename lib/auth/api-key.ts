import "server-only";
import { createHash, timingSafeEqual } from "node:crypto";
import { readConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { clientHost, route } from "@/lib/http";
import { isSessionValid as hasValidSessionCookie } from "./session";
import { authClient, recordAuthFailure, refuseThrottledClient } from "./throttle";

/**
 * API authentication: `Authorization: Bearer <key>` with a key from BATCHWATCH_API_KEY
 * (comma-separated, so keys can be rotated without downtime), or a dashboard session.
 *
 * The proxy (proxy.ts) applies it to every non-public `/api/**` path, and every non-public route
 * handler applies it again through {@link authenticatedRoute}: a proxy can be skipped by some
 * deployments and by a matcher mistake, a route handler cannot.
 */

/**
 * Paths anyone may call: pages decide about themselves; provider webhooks carry signatures; the
 * benchmark's constant route answers 404 unless BATCHWATCH_BENCH_ROUTES=1 (a development flag).
 */
const PUBLIC_API_PATHS = ["/api/health", "/api/inngest", "/api/examples/receiver", "/api/bench/constant"] as const;
const PUBLIC_API_PREFIXES = ["/api/webhooks/"] as const;

/** True for `/api/**` paths that require authentication; everything else is left to its page. */
export function requiresApiAuth(pathname: string): boolean {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  if (path !== "/api" && !path.startsWith("/api/")) return false;
  if ((PUBLIC_API_PATHS as readonly string[]).includes(path)) return false;
  // Inngest's serve handler and provider webhooks are authenticated by their own signatures.
  if (path.startsWith("/api/inngest/")) return false;
  return !PUBLIC_API_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/**
 * Decides whether a request carries a valid dashboard session, so API routes accept the
 * dashboard's cookie as well as a Bearer key. Replaceable for tests (a check that throws).
 */
export type SessionValidator = (request: Request) => boolean | Promise<boolean>;

let sessionValidator: SessionValidator = hasValidSessionCookie;

export function setSessionValidator(validator: SessionValidator): void {
  sessionValidator = validator;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A cookie travels with requests other sites make, so a session must not authorise a state
 * change that a browser says came from elsewhere (CSRF). Bearer keys are not sent by browsers
 * on their own, so they need no such check. Requests without these headers are not browsers'.
 * `Origin` is compared with the host the client actually used ({@link clientHost}), never with
 * `request.url`, which under `next start` names the server's own listening address.
 */
function isCrossSiteStateChange(request: Request): boolean {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return false;
  const fetchSite = request.headers.get("sec-fetch-site");
  if (fetchSite === "cross-site" || fetchSite === "same-site") return true;
  const origin = request.headers.get("origin");
  if (origin === null) return false;
  try {
    return new URL(origin).host.toLowerCase() !== clientHost(request).toLowerCase();
  } catch {
    return true;
  }
}

/** The session check as installed; false for no session, a failing check, or a cross-site change. */
export async function isSessionValid(request: Request): Promise<boolean> {
  try {
    return (await sessionValidator(request)) && !isCrossSiteStateChange(request);
  } catch {
    // A broken session check must fail closed, never open.
    return false;
  }
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Compares `presented` with every configured key in constant time. Both sides are hashed first,
 * so the comparison is always 32 bytes against 32 bytes and a key's length does not leak; every
 * key is compared even after a match, so the position of the matching key does not leak either.
 */
export function isValidApiKey(presented: string, keys: readonly string[]): boolean {
  const presentedHash = sha256(presented);
  let matched = false;
  for (const key of keys) {
    if (timingSafeEqual(presentedHash, sha256(key))) matched = true;
  }
  return matched;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  const match = header?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return match?.[1];
}

/**
 * Throws `unauthorized` unless the request carries a valid API key or a valid dashboard session.
 * When no key is configured, the message says how to configure one.
 */
export async function requireApiAuth(request: Request): Promise<void> {
  const keys = readConfig().apiKeys;
  const token = bearerToken(request);
  // A client that failed too often is refused whatever key it presents now (see ./throttle.ts).
  const client = token === undefined ? undefined : authClient(request);
  if (client !== undefined && keys.length > 0) await refuseThrottledClient(client);
  if (token !== undefined && keys.length > 0 && isValidApiKey(token, keys)) return;
  if (await isSessionValid(request)) return;
  if (client !== undefined && keys.length > 0) await recordAuthFailure(client);
  if (keys.length === 0) {
    throw new AppError(
      "unauthorized",
      "BATCHWATCH_API_KEY is not set: set it (one or more comma-separated keys) and send `Authorization: Bearer <key>`",
    );
  }
  throw new AppError(
    "unauthorized",
    token === undefined
      ? "missing API key: send `Authorization: Bearer <key>`"
      : "invalid API key",
  );
}

/** True when {@link requireApiAuth} would let the request through (for routes public in part). */
export async function isAuthenticated(request: Request): Promise<boolean> {
  try {
    await requireApiAuth(request);
    return true;
  } catch (error) {
    if (error instanceof AppError && error.code === "unauthorized") return false;
    throw error;
  }
}

type RouteHandler<Ctx> = (request: Request, context: Ctx) => Promise<Response>;

/** {@link route} for a handler that requires authentication: checked before the handler runs. */
export function authenticatedRoute<Ctx = unknown>(handler: RouteHandler<Ctx>): RouteHandler<Ctx> {
  return route<Ctx>(async (request, context) => {
    await requireApiAuth(request);
    return handler(request, context);
  });
}
