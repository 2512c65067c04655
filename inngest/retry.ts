import { RetryAfterError } from "inngest";
import { isProviderError } from "@/lib/providers";
import { PROVIDER_RETRY_AFTER_CAP_MS } from "@/lib/watch/watching";

/**
 * Rethrows a step's error for Inngest, turning a provider's rate limit that says when to come back
 * (Retry-After) into a `RetryAfterError`, so the retry waits that long (up to
 * {@link PROVIDER_RETRY_AFTER_CAP_MS}, which the watch lease is sized for) instead of backing off
 * blindly on the engine's table (lib/engine-backoff.ts).
 */
export function rethrowHonouringRateLimit(error: unknown): never {
  if (isProviderError(error) && error.code === "rate_limited" && error.retryAfterMs !== undefined) {
    throw new RetryAfterError(error.message, Math.min(error.retryAfterMs, PROVIDER_RETRY_AFTER_CAP_MS), { cause: error });
  }
  throw error;
}
