/**
 * The one error every provider throws. The durable layer decides from `code` alone whether to
 * retry, wait or settle a watch, so every SDK error, fetch failure and unexpected payload is
 * classified here, in one place ({@link toProviderError}).
 */

export const PROVIDER_ERROR_CODES = [
  "credentials",
  "not_found",
  "rate_limited",
  "unavailable",
  "timeout",
  "invalid_response",
  "unknown_provider",
  "not_enabled",
  "unsupported",
] as const;

/**
 * - `credentials`: a key or endpoint variable is missing, or the provider answered 401/403, or a
 *   400 that says the key is invalid (Gemini's API_KEY_INVALID, xAI's "Incorrect API key").
 *   Not retried; the watch settles as failed until the operator fixes the configuration.
 * - `not_found`: 404, or another 4xx that says this id can never be read (400, 410, 422…), or a
 *   malformed simulated id. Not retried; the watch settles.
 * - `rate_limited`: 429. Retried after `retryAfterMs` (from Retry-After in seconds or as an
 *   HTTP date, or OpenAI's retry-after-ms) when the provider sent one, else with backoff.
 * - `unavailable`: 5xx, 408/409/425, connection refused or reset. Retried with backoff.
 * - `timeout`: no response within BATCHWATCH_PROVIDER_TIMEOUT_MS (default 30 s), or a results
 *   stream that stalled that long. Retried with backoff.
 * - `invalid_response`: the provider answered 2xx with a shape the zod schemas reject, or a
 *   status this module does not know. Recorded and retried with backoff (a provider mid-deploy can
 *   answer oddly); if it persists, the provider's API changed and its module needs updating.
 * - `unknown_provider`: the provider name is not one of PROVIDER_NAMES. Not retried.
 * - `not_enabled`: the simulated provider is used without BATCHWATCH_SIMULATED_PROVIDER=1. Not retried.
 * - `unsupported`: a job kind or operation the provider does not offer. Not retried.
 */
export type ProviderErrorCode = (typeof PROVIDER_ERROR_CODES)[number];

/** Codes worth another attempt later; everything else settles the watch. */
export const RETRYABLE_PROVIDER_ERROR_CODES: readonly ProviderErrorCode[] = ["rate_limited", "unavailable", "timeout", "invalid_response"];

export interface ProviderErrorOptions {
  status?: number;
  retryAfterMs?: number;
  provider?: string;
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  /** HTTP status the provider answered with, when there was one. */
  readonly status?: number;
  /** How long the provider asked us to wait (429), in ms. */
  readonly retryAfterMs?: number;
  readonly provider?: string;

  constructor(code: ProviderErrorCode, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProviderError";
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.provider !== undefined) this.provider = options.provider;
  }

  get retryable(): boolean {
    return RETRYABLE_PROVIDER_ERROR_CODES.includes(this.code);
  }
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof ProviderError;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined> | null | undefined;

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Milliseconds to wait from `retry-after-ms` (OpenAI), or `Retry-After` as delta-seconds or an
 * HTTP date. Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfterMs(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const milliseconds = readHeader(headers, "retry-after-ms");
  if (milliseconds !== undefined && /^\d+(\.\d+)?$/.test(milliseconds.trim())) {
    return Math.ceil(Number(milliseconds));
  }
  const value = readHeader(headers, "retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const MAX_DETAIL_LENGTH = 300;

/** Pulls a human message out of a provider's error body without assuming its shape. */
function providerMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim() || undefined;
  if (!body || typeof body !== "object") return undefined;
  const record = body as Record<string, unknown>;
  for (const key of ["message", "detail", "error_message"]) {
    if (typeof record[key] === "string") return record[key] as string;
  }
  if (record.error !== undefined) return providerMessage(record.error);
  return undefined;
}

function truncate(text: string): string {
  return text.length > MAX_DETAIL_LENGTH ? `${text.slice(0, MAX_DETAIL_LENGTH)}…` : text;
}

/** A masked key echoed back ("xa***yz") is still part of a key: never pass one on. */
function redactMaskedKeys(text: string): string {
  return text.replace(/\S*\*{2,}\S*/g, "[redacted]");
}

/**
 * Some providers refuse a bad key with HTTP 400 instead of 401: Gemini with an ErrorInfo whose
 * reason is API_KEY_INVALID, xAI with "Incorrect API key provided: xa***yz".
 */
function refusesTheKey(body: unknown): boolean {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (Array.isArray(details) && details.some((detail) => (detail as { reason?: unknown } | null)?.reason === "API_KEY_INVALID")) {
    return true;
  }
  return /incorrect api key provided/i.test(providerMessage(body) ?? "");
}

/** Google APIs (Gemini) put the wait in the body: `error.details[].retryDelay`, e.g. "30s". */
function googleRetryDelayMs(body: unknown): number | undefined {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
    const match = typeof delay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(delay) : null;
    if (match) return Math.ceil(Number(match[1]) * 1000);
  }
  return undefined;
}

/** The single place where an HTTP status becomes a ProviderError code. */
export function providerErrorFromStatus(
  status: number,
  headers: HeaderSource,
  provider: string | undefined,
  body?: unknown,
  cause?: unknown,
): ProviderError {
  const who = provider ?? "provider";
  const refusedKey = status === 401 || status === 403 || (status === 400 && refusesTheKey(body));
  // Credential errors may echo part of the key back; never pass their text on.
  const detail = refusedKey ? undefined : providerMessage(body);
  const suffix = detail ? `: ${truncate(redactMaskedKeys(detail))}` : "";
  const options = { status, provider, cause };
  if (refusedKey) {
    return new ProviderError("credentials", `${who} rejected the credentials (HTTP ${status})`, options);
  }
  if (status === 429) {
    return new ProviderError("rate_limited", `${who} is rate limiting (HTTP 429)${suffix}`, {
      ...options,
      retryAfterMs: parseRetryAfterMs(headers) ?? googleRetryDelayMs(body),
    });
  }
  if (status === 408) return new ProviderError("timeout", `${who} timed out (HTTP 408)${suffix}`, options);
  if (status >= 500 || status === 409 || status === 425) {
    return new ProviderError("unavailable", `${who} is unavailable (HTTP ${status})${suffix}`, options);
  }
  if (status >= 400) {
    return new ProviderError("not_found", `${who} cannot find or read this job (HTTP ${status})${suffix}`, options);
  }
  return new ProviderError("invalid_response", `${who} answered with unexpected HTTP ${status}${suffix}`, options);
}

const MAX_ERROR_BODY_BYTES = 4096;

/** Reads the start of an error body; a provider's HTML error page can be large. */
async function readErrorBody(response: Response): Promise<unknown> {
  if (!response.body) return undefined;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return undefined;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY_BYTES));
  return safeJson(text);
}

/** Classifies a failed fetch Response (Gemini, Together, xAI). */
export async function providerErrorFromResponse(response: Response, provider: string): Promise<ProviderError> {
  return providerErrorFromStatus(response.status, response.headers, provider, await readErrorBody(response));
}

const CONNECTION_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

function errorChain(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  while (current && typeof current === "object" && chain.length < 6) {
    chain.push(current as Record<string, unknown>);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function nameOf(error: Record<string, unknown>): string {
  const constructorName = (error.constructor as { name?: string } | undefined)?.name ?? "";
  return `${typeof error.name === "string" ? error.name : ""} ${constructorName}`;
}

/**
 * Classifies anything a provider call can throw — an SDK error (openai, @anthropic-ai/sdk,
 * @mistralai/mistralai), a fetch failure, a zod error — into a ProviderError. Reused by every
 * provider; a failed fetch Response goes through {@link providerErrorFromResponse} instead.
 * Duck-typed on purpose, so importing this module never loads an SDK.
 */
export function toProviderError(error: unknown, provider?: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const who = provider ?? "provider";
  const chain = errorChain(error);
  const top = chain[0];

  if (top) {
    const names = nameOf(top);
    if (/ZodError|ResponseValidationError|SDKValidationError|SyntaxError/.test(names)) {
      return new ProviderError("invalid_response", `${who} answered with an unexpected shape`, { provider, cause: error });
    }
    // Stainless SDKs (openai, anthropic) expose `status` + `headers`; Mistral's expose `statusCode`.
    const status = typeof top.status === "number" ? top.status : typeof top.statusCode === "number" ? top.statusCode : undefined;
    if (status !== undefined && status >= 300) {
      const body = top.error ?? (typeof top.body === "string" ? safeJson(top.body) : undefined);
      return providerErrorFromStatus(status, top.headers as HeaderSource, provider, body, error);
    }
    if (status !== undefined && status >= 200) {
      // The SDK refused a 2xx answer (wrong content type or shape).
      return new ProviderError("invalid_response", `${who} answered HTTP ${status} with an unexpected body`, {
        status,
        provider,
        cause: error,
      });
    }
  }

  for (const link of chain) {
    const names = nameOf(link);
    if (/TimeoutError|APIConnectionTimeoutError|RequestTimeoutError/.test(names)) {
      return new ProviderError("timeout", `${who} did not answer in time`, { provider, cause: error });
    }
    if (typeof link.code === "string" && CONNECTION_ERROR_CODES.has(link.code)) {
      return new ProviderError("unavailable", `${who} could not be reached (${link.code})`, { provider, cause: error });
    }
  }
  const isFetchFailure = top instanceof TypeError && /fetch failed|terminated|network/i.test(top.message);
  if (top && (isFetchFailure || /APIConnectionError|ConnectionError/.test(nameOf(top)))) {
    return new ProviderError("unavailable", `${who} could not be reached`, { provider, cause: error });
  }
  // Anything else (an abort we did not start, an unknown SDK failure) is treated as transient:
  // from the watch's point of view the provider could not be read this time.
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError("unavailable", `${who} request failed: ${truncate(redactMaskedKeys(message))}`, { provider, cause: error });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
