/**
 * The Inngest engine's retry schedule, in one place: what the watch lease is sized from
 * (lib/watch/watching.ts), what caps a provider's Retry-After (inngest/retry.ts), and what the
 * test harness waits between a step's attempts (test/helpers/inngest-harness.ts).
 *
 * After a step's attempt number `n` (0-based) fails, the engine retries it after
 * `ENGINE_BACKOFF_TABLE_MS[n]` (the last entry repeating) plus a random jitter of up to
 * {@link ENGINE_BACKOFF_JITTER_MS} — `TableBackoff` in the engine's `pkg/backoff` (Inngest v1.43).
 * A `RetryAfterError` replaces that wait by its own, exactly (no jitter).
 */
export const ENGINE_BACKOFF_TABLE_MS = [
  15_000,
  30_000,
  60_000,
  2 * 60_000,
  5 * 60_000,
  10 * 60_000,
  20 * 60_000,
  40 * 60_000,
  3_600_000,
  2 * 3_600_000,
] as const;

/** The engine adds between 0 and this much to every table wait. */
export const ENGINE_BACKOFF_JITTER_MS = 30_000;

/** The engine's wait after a step's failed attempt `attempt` (0-based), without its jitter. */
export function engineRetryDelayMs(attempt: number): number {
  return ENGINE_BACKOFF_TABLE_MS[Math.min(Math.max(0, attempt), ENGINE_BACKOFF_TABLE_MS.length - 1)]!;
}

/**
 * The longest a step declared with `retries` retries can take, from its first attempt's start to
 * its last attempt's end: every attempt taking `attemptMs`, every wait the table's plus the whole
 * jitter — or, where the step may ask for its own wait (`RetryAfterError`), up to `retryAfterCapMs`.
 */
export function stepRetrySpanMs(retries: number, options: { attemptMs: number; retryAfterCapMs?: number }): number {
  let span = (retries + 1) * options.attemptMs;
  for (let attempt = 0; attempt < retries; attempt++) {
    span += Math.max(engineRetryDelayMs(attempt) + ENGINE_BACKOFF_JITTER_MS, options.retryAfterCapMs ?? 0);
  }
  return span;
}
