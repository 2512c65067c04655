/**
 * The one typed error for expected failures at batchwatch's boundaries (HTTP API, webhooks,
 * configuration). Each code maps to exactly one HTTP status in {@link HTTP_STATUS_BY_CODE};
 * route handlers never pick statuses themselves. Messages are shown to API callers, so they
 * must never contain a secret.
 */
export const ERROR_CODES = [
  "invalid_json",
  "invalid_request",
  "unknown_provider",
  "provider_not_configured",
  "unsafe_webhook_url",
  "unauthorized",
  "not_found",
  "conflict",
  "payload_too_large",
  "rate_limited",
  "invalid_signature",
  "provider_unavailable",
  "inngest_unavailable",
  "not_configured",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The single place where an error code becomes an HTTP status. */
export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 400,
  unknown_provider: 400,
  provider_not_configured: 400,
  unsafe_webhook_url: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  invalid_signature: 400,
  provider_unavailable: 502,
  inngest_unavailable: 503,
  not_configured: 503,
  internal: 500,
};

/**
 * Thrown for any failure the caller can act on. When it reaches a route handler it is answered
 * as `{ "error": { "code", "message" } }` with the status of its code; nothing else is leaked.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** For `rate_limited`: answered as `Retry-After`. */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.name = "AppError";
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  get httpStatus(): number {
    return HTTP_STATUS_BY_CODE[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
