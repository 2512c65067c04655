import "server-only";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { cookies, headers } from "next/headers";
import { readConfig } from "@/lib/config";
import { getDb, type Queryable } from "@/lib/db";
import { clientHost } from "@/lib/http";

/**
 * The dashboard session lives server-side, in the `sessions` table. The HTTP-only cookie holds
 * only an opaque random token; the table stores its SHA-256 (a copy of the table opens nothing),
 * when it expires, and a fingerprint of the API key used to sign in (an HMAC with
 * BATCHWATCH_SESSION_SECRET, so the key itself is never stored). Signing out deletes the row, so a
 * replayed cookie is refused; removing that key from BATCHWATCH_API_KEY ends every session it
 * opened, and rotating the session secret ends all of them.
 */

export const SESSION_COOKIE_NAME = "batchwatch_session";
export const SESSION_LIFETIME_MS = 12 * 3_600_000;
/** 32 random bytes, base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface Session {
  issuedAt: number;
  expiresAt: number;
}

export interface SessionCookie {
  name: string;
  value: string;
  options: {
    httpOnly: true;
    secure: boolean;
    sameSite: "lax";
    path: "/";
    expires: Date;
  };
}

/** Thrown when the dashboard cannot work because BATCHWATCH_SESSION_SECRET is missing. */
export class SessionNotConfiguredError extends Error {
  constructor() {
    super("BATCHWATCH_SESSION_SECRET is not set: set it to a random string of at least 32 characters");
    this.name = "SessionNotConfiguredError";
  }
}

function sessionSecret(): string {
  const secret = readConfig().sessionSecret;
  if (!secret) throw new SessionNotConfiguredError();
  return secret;
}

function keyFingerprint(secret: string, apiKey: string): string {
  return createHmac("sha256", secret).update(`api-key:${apiKey}`, "utf8").digest().subarray(0, 16).toString("base64url");
}

function tokenHash(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Opens a session for someone who presented `apiKey` (already checked by the caller) and returns
 * its cookie. `secure` is decided by {@link shouldUseSecureCookie}; the cookie expires with the
 * session. Expired sessions are cleared on the way.
 */
export async function createSessionCookie(
  options: { apiKey: string; secure: boolean; now?: number },
  db?: Queryable,
): Promise<SessionCookie> {
  const fingerprint = keyFingerprint(sessionSecret(), options.apiKey);
  const issuedAt = options.now ?? Date.now();
  const expiresAt = issuedAt + SESSION_LIFETIME_MS;
  const token = randomBytes(32).toString("base64url");
  const database = db ?? (await getDb());
  await database.query("DELETE FROM sessions WHERE expires_at <= $1", [new Date(issuedAt)]);
  await database.query(
    "INSERT INTO sessions (token_hash, key_fingerprint, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    [tokenHash(token), fingerprint, new Date(issuedAt), new Date(expiresAt)],
  );
  return {
    name: SESSION_COOKIE_NAME,
    value: token,
    options: { httpOnly: true, secure: options.secure, sameSite: "lax", path: "/", expires: new Date(expiresAt) },
  };
}

/**
 * The session a cookie value names, or null when it is missing, malformed, unknown (forged or
 * signed out), expired, or opened with an API key that is no longer configured.
 */
export async function readSession(
  cookieValue: string | undefined | null,
  now: number = Date.now(),
  db?: Queryable,
): Promise<Session | null> {
  if (!cookieValue || !TOKEN_PATTERN.test(cookieValue)) return null;
  const config = readConfig();
  if (!config.sessionSecret) return null;
  const database = db ?? (await getDb());
  const [row] = await database.query<{ key_fingerprint: string; issued_ms: number | string; expires_ms: number | string }>(
    `SELECT key_fingerprint,
            (extract(epoch FROM created_at) * 1000)::float8 AS issued_ms,
            (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
       FROM sessions WHERE token_hash = $1 AND expires_at > $2`,
    [tokenHash(cookieValue), new Date(now)],
  );
  if (!row) return null;
  const fingerprint = Buffer.from(row.key_fingerprint, "utf8");
  // Every configured key is compared, so which one matched does not show in the timing.
  let keyStillConfigured = false;
  for (const key of config.apiKeys) {
    const candidate = Buffer.from(keyFingerprint(config.sessionSecret, key), "utf8");
    if (candidate.length === fingerprint.length && timingSafeEqual(candidate, fingerprint)) keyStillConfigured = true;
  }
  return keyStillConfigured ? { issuedAt: Number(row.issued_ms), expiresAt: Number(row.expires_ms) } : null;
}

/** Ends the session a cookie value names (sign-out): its cookie is refused from then on. */
export async function endSession(cookieValue: string | undefined | null, db?: Queryable): Promise<void> {
  if (!cookieValue || !TOKEN_PATTERN.test(cookieValue)) return;
  await (db ?? (await getDb())).query("DELETE FROM sessions WHERE token_hash = $1", [tokenHash(cookieValue)]);
}

/** The value of one cookie in a `Cookie` header, or undefined. */
export function cookieFromHeader(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const separator = part.indexOf("=");
    if (separator < 0) continue;
    if (part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

/**
 * True when the request carries a valid dashboard session cookie. Meant for the API's
 * `requireApiAuth` (lib/auth/api-key.ts), which may import it directly: this module imports
 * nothing from api-key.ts, so there is no import cycle.
 */
export async function isSessionValid(request: Request): Promise<boolean> {
  return (await readSession(cookieFromHeader(request.headers.get("cookie"), SESSION_COOKIE_NAME))) !== null;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Secure unless the request came over plain http to a loopback host (`next dev`, `next start`
 * on your own machine, the end-to-end tests): anywhere else the cookie must only travel over
 * https, so a deployment served over plain http cannot sign in at all rather than leak the session.
 */
export function shouldUseSecureCookie(request: { protocol: string; host: string }): boolean {
  const hostname = request.host.toLowerCase().replace(/:\d+$/, "");
  return !(request.protocol === "http" && LOOPBACK_HOSTS.has(hostname));
}

/** Protocol and host of the request being handled, as the server (or a proxy in front of it) saw it. */
export async function currentRequestOrigin(): Promise<{ protocol: string; host: string }> {
  const incoming = await headers();
  const forwardedProto = incoming.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  const host = clientHost({ headers: incoming, url: "http://unknown" });
  // Next sets x-forwarded-proto itself for the connection it accepted; a TLS proxy in front overrides it.
  return { protocol: forwardedProto === "https" ? "https" : "http", host };
}

/**
 * Only same-origin paths are followed after sign-in, so the `next` parameter cannot send someone
 * elsewhere. A path starts with one `/` and holds no control or whitespace character (browsers drop
 * tabs and newlines from URLs, so `/\t/evil.example` is `//evil.example` to them, and a newline
 * would break the `Location` header), no backslash (read as `/` by browsers) and no `//`; it does
 * not lead back to the sign-in page. Anything else falls back to `fallback`.
 */
export function safeNextPath(next: unknown, fallback = "/batches"): string {
  if (typeof next !== "string" || next.length > 2048 || !next.startsWith("/")) return fallback;
  // Control characters (C0, DEL, C1), any Unicode whitespace, backslashes.
  if (/[\u0000-\u001f\u007f-\u009f\s\\]/u.test(next) || next.includes("//")) return fallback;
  if (next.startsWith("/sign-in")) return fallback;
  return next;
}

/**
 * For pages and server actions: the current session, or a redirect to `/sign-in?next=<path>`.
 * `path` is where to come back to after signing in.
 */
export async function requireSession(path = "/batches"): Promise<Session> {
  const session = await readSession((await cookies()).get(SESSION_COOKIE_NAME)?.value);
  if (session) return session;
  // Loaded on use: next/navigation needs Next's bundler, and this module is also used by the
  // proxy and by plain Node (tests) for the cookie functions above.
  const { redirect } = await import("next/navigation");
  return redirect(`/sign-in?next=${encodeURIComponent(safeNextPath(path))}`);
}
