import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { cookies, headers } from "next/headers";
import { readConfig } from "@/lib/config";
import { clientHost } from "@/lib/http";

/**
 * The dashboard session: an HTTP-only cookie holding `v1.<payload>.<signature>`, where the payload
 * is base64url JSON `{ iat, exp, key }` and the signature is HMAC-SHA256 over `v1.<payload>` with
 * BATCHWATCH_SESSION_SECRET. `key` is a fingerprint of the API key used to sign in (an HMAC, so
 * the key itself never leaves the server): removing that key from BATCHWATCH_API_KEY ends every
 * session it opened, and rotating the session secret ends all of them.
 */

export const SESSION_COOKIE_NAME = "batchwatch_session";
export const SESSION_LIFETIME_MS = 12 * 3_600_000;
const VERSION = "v1";

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

interface SessionPayload {
  iat: number;
  exp: number;
  key: string;
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

function hmac(secret: string, text: string): Buffer {
  return createHmac("sha256", secret).update(text, "utf8").digest();
}

function keyFingerprint(secret: string, apiKey: string): string {
  // A distinct label keeps this HMAC from ever equalling a cookie signature.
  return hmac(secret, `api-key:${apiKey}`).subarray(0, 16).toString("base64url");
}

/**
 * A signed session cookie for someone who presented `apiKey` (already checked by the caller).
 * `secure` is decided by {@link shouldUseSecureCookie}; the cookie expires with the session.
 */
export function createSessionCookie(options: { apiKey: string; secure: boolean; now?: number }): SessionCookie {
  const secret = sessionSecret();
  const issuedAt = options.now ?? Date.now();
  const payload: SessionPayload = {
    iat: issuedAt,
    exp: issuedAt + SESSION_LIFETIME_MS,
    key: keyFingerprint(secret, options.apiKey),
  };
  const body = `${VERSION}.${Buffer.from(JSON.stringify(payload), "utf8").toString("base64url")}`;
  return {
    name: SESSION_COOKIE_NAME,
    value: `${body}.${hmac(secret, body).toString("base64url")}`,
    options: { httpOnly: true, secure: options.secure, sameSite: "lax", path: "/", expires: new Date(payload.exp) },
  };
}

/**
 * The session a cookie value carries, or null when it is missing, malformed, tampered with,
 * expired, signed with another secret, or opened with an API key that is no longer configured.
 */
export function readSession(cookieValue: string | undefined | null, now: number = Date.now()): Session | null {
  if (!cookieValue) return null;
  const config = readConfig();
  if (!config.sessionSecret) return null;
  const parts = cookieValue.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  const [, encodedPayload, encodedSignature] = parts as [string, string, string];

  const expected = hmac(config.sessionSecret, `${VERSION}.${encodedPayload}`);
  const presented = Buffer.from(encodedSignature, "base64url");
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;

  let payload: Partial<SessionPayload>;
  try {
    payload = JSON.parse(Buffer.from(encodedPayload, "base64url").toString("utf8")) as Partial<SessionPayload>;
  } catch {
    return null;
  }
  if (typeof payload.iat !== "number" || typeof payload.exp !== "number" || typeof payload.key !== "string") return null;
  if (payload.exp <= now || payload.iat > now + 60_000) return null;
  const secret = config.sessionSecret;
  const fingerprint = Buffer.from(payload.key, "utf8");
  // Every configured key is compared, so which one matched does not show in the timing.
  let keyStillConfigured = false;
  for (const key of config.apiKeys) {
    const candidate = Buffer.from(keyFingerprint(secret, key), "utf8");
    if (candidate.length === fingerprint.length && timingSafeEqual(candidate, fingerprint)) keyStillConfigured = true;
  }
  return keyStillConfigured ? { issuedAt: payload.iat, expiresAt: payload.exp } : null;
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
export function isSessionValid(request: Request): boolean {
  return readSession(cookieFromHeader(request.headers.get("cookie"), SESSION_COOKIE_NAME)) !== null;
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
  const session = readSession((await cookies()).get(SESSION_COOKIE_NAME)?.value);
  if (session) return session;
  // Loaded on use: next/navigation needs Next's bundler, and this module is also used by the
  // proxy and by plain Node (tests) for the cookie functions above.
  const { redirect } = await import("next/navigation");
  return redirect(`/sign-in?next=${encodeURIComponent(safeNextPath(path))}`);
}
