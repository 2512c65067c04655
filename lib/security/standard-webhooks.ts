import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Signing and verification per the Standard Webhooks specification
 * (https://www.standardwebhooks.com/, spec/standard-webhooks.md):
 *
 * - headers `webhook-id`, `webhook-timestamp` (integer Unix seconds), `webhook-signature`;
 * - signed content `${id}.${timestamp}.${body}` where `body` is the exact bytes sent;
 * - signature `v1,<base64 HMAC-SHA256>`, several space-separated while secrets rotate.
 *
 * Secrets are written `whsec_<base64>`: the `whsec_` prefix is stripped and the rest is
 * base64-decoded; the decoded bytes are the HMAC key (a bare base64 string without the prefix is
 * accepted too). Secrets are never put into error messages.
 */

export const SECRET_PREFIX = "whsec_";
export const SIGNATURE_VERSION = "v1";
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SECRET_BYTES = 32;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export type WebhookVerificationFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "stale_timestamp"
  | "future_timestamp"
  | "no_matching_signature";

/** The one error {@link verifyWebhook} throws; `code` tells why, the message never holds a secret. */
export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationFailure;

  constructor(code: WebhookVerificationFailure, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24–64). */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

// Decoding a secret costs more than the HMAC of a small body, and the same few secrets sign every
// delivery, so decoded keys are kept per secret string. Bounded so a process that sees many
// endpoints cannot grow it without limit.
const MAX_CACHED_KEYS = 1024;
const keyCache = new Map<string, Buffer>();

function keyFor(secret: string): Buffer {
  const cached = keyCache.get(secret);
  if (cached !== undefined) return cached;
  const key = decodeSecret(secret);
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
  keyCache.set(secret, key);
  return key;
}

/** Strips `whsec_` and base64-decodes the rest; throws a TypeError (without the secret) if invalid. */
export function decodeSecret(secret: string): Buffer {
  if (typeof secret !== "string") throw new TypeError("webhook secret must be a string");
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) {
    throw new TypeError('webhook secret must be "whsec_" followed by base64');
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) throw new TypeError("webhook secret is empty");
  return key;
}

function hmacBase64(key: Buffer, id: string, timestamp: string, body: string): string {
  // Two updates instead of one concatenated string: the body is not copied.
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64");
}

function hmacBytes(key: Buffer, id: string, timestamp: string, body: string): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

export interface SignInput {
  /** The `webhook-id`: the same for every retry of one message, so receivers can deduplicate. */
  id: string;
  /** Unix seconds. */
  timestamp: number;
  /** The exact body that will be sent. */
  body: string;
  /** One secret, or several during a rotation (each yields its own signature). */
  secrets: readonly string[];
}

/** The `webhook-signature` header value: `v1,<sig>` per secret, space-separated. */
export function signPayload({ id, timestamp, body, secrets }: SignInput): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError("timestamp must be whole Unix seconds");
  }
  if (secrets.length === 0) throw new TypeError("at least one webhook secret is required");
  const timestampText = String(timestamp);
  if (secrets.length === 1) {
    return `v1,${hmacBase64(keyFor(secrets[0]!), id, timestampText, body)}`;
  }
  return secrets.map((secret) => `v1,${hmacBase64(keyFor(secret), id, timestampText, body)}`).join(" ");
}

// A type alias, not an interface, so it can be passed wherever a header record is expected.
export type WebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
  "content-type": "application/json";
};

/** The four headers of one delivery attempt; `now` defaults to the current time. */
export function buildWebhookHeaders({
  id,
  body,
  secrets,
  now = new Date(),
}: {
  id: string;
  body: string;
  secrets: readonly string[];
  now?: Date;
}): WebhookHeaders {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signPayload({ id, timestamp, body, secrets }),
    "content-type": "application/json",
  };
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  return Array.isArray(value) ? value.join(" ") : value;
}

export interface VerifyInput {
  headers: HeaderSource;
  /** The raw body as received: never a re-serialised parsed object. */
  body: string;
  secrets: readonly string[];
  toleranceSeconds?: number;
  now?: Date;
}

/**
 * Verifies one delivery. Accepts it when its timestamp is within `toleranceSeconds` of `now`
 * (either direction) and any `v1` signature matches any secret; throws
 * {@link WebhookVerificationError} otherwise. Comparisons are constant-time.
 */
export function verifyWebhook({
  headers,
  body,
  secrets,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  now = new Date(),
}: VerifyInput): { id: string; timestamp: number } {
  if (secrets.length === 0) throw new TypeError("at least one webhook secret is required");
  const id = readHeader(headers, "webhook-id");
  const timestampText = readHeader(headers, "webhook-timestamp");
  const signatureHeader = readHeader(headers, "webhook-signature");
  if (!id || !timestampText || !signatureHeader) {
    throw new WebhookVerificationError("missing_headers", "missing webhook-id, webhook-timestamp or webhook-signature");
  }
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError("invalid_timestamp", "webhook-timestamp must be whole Unix seconds");
  }
  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (nowSeconds - timestamp > toleranceSeconds) {
    throw new WebhookVerificationError("stale_timestamp", "webhook-timestamp is too old");
  }
  if (timestamp - nowSeconds > toleranceSeconds) {
    throw new WebhookVerificationError("future_timestamp", "webhook-timestamp is too far in the future");
  }
  const received = parseSignatures(signatureHeader);
  for (const secret of secrets) {
    const expected = hmacBytes(keyFor(secret), id, timestampText, body);
    for (const signature of received) {
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) {
        return { id, timestamp };
      }
    }
  }
  throw new WebhookVerificationError("no_matching_signature", "no matching webhook signature");
}

/** The decoded bytes of every `v1,<base64>` entry; other versions (e.g. `v1a`) are ignored. */
function parseSignatures(header: string): Buffer[] {
  const signatures: Buffer[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma === -1 || entry.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const encoded = entry.slice(comma + 1);
    if (BASE64.test(encoded)) signatures.push(Buffer.from(encoded, "base64"));
  }
  return signatures;
}
