import { RetryAfterError } from "inngest";
import { isProviderError } from "@/lib/providers";

/**
 * Rethrows a step's error for Inngest, turning a provider's rate limit that says when to come back
 * (Retry-After) into a `RetryAfterError`, so the retry waits exactly that long instead of backing off blindly.
 */
export function rethrowHonouringRateLimit(error: unknown): never {
  if (isProviderError(error) && error.code === "rate_limited" && error.retryAfterMs !== undefined) {
    throw new RetryAfterError(error.message, error.retryAfterMs, { cause: error });
  }
  throw error;
}
