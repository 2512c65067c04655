import { describe, expect, test } from "vitest";
import { rethrowHonouringRateLimit } from "@/inngest/retry";
import { ENGINE_BACKOFF_JITTER_MS, engineRetryDelayMs, stepRetrySpanMs } from "@/lib/engine-backoff";
import { ProviderError } from "@/lib/providers";
import { PROVIDER_RETRY_AFTER_CAP_MS, WATCH_POLL_RETRIES, watchLeaseGraceMs } from "@/lib/watch/watching";
import { functionById } from "../helpers/inngest-harness";

const SECOND = 1_000;
const MINUTE = 60_000;

describe("the engine's retry backoff (Inngest's TableBackoff)", () => {
  test.each([
    [0, 15 * SECOND],
    [1, 30 * SECOND],
    [2, MINUTE],
    [3, 2 * MINUTE],
    [4, 5 * MINUTE],
    [5, 10 * MINUTE],
    [6, 20 * MINUTE],
    [7, 40 * MINUTE],
    [8, 60 * MINUTE],
    [9, 120 * MINUTE],
    [10, 120 * MINUTE],
    [25, 120 * MINUTE],
  ])("after failed attempt %i the engine waits %i ms plus up to 30 s of jitter", (attempt, delayMs) => {
    expect(engineRetryDelayMs(attempt)).toBe(delayMs);
    expect(ENGINE_BACKOFF_JITTER_MS).toBe(30 * SECOND);
  });

  test.each([
    { retries: 0, attemptMs: 5 * SECOND, capMs: undefined, spanMs: 5 * SECOND },
    { retries: 2, attemptMs: 0, capMs: undefined, spanMs: 15 * SECOND + 30 * SECOND + 30 * SECOND + 30 * SECOND },
    { retries: 2, attemptMs: 10 * SECOND, capMs: 2 * MINUTE, spanMs: 3 * 10 * SECOND + 2 * 2 * MINUTE },
    { retries: 6, attemptMs: 0, capMs: undefined, spanMs: (15 + 30 + 60 + 120 + 300 + 600) * SECOND + 6 * 30 * SECOND },
  ])("a step with $retries retries of $attemptMs ms each (Retry-After capped at $capMs) spans at most $spanMs ms", ({ retries, attemptMs, capMs, spanMs }) => {
    expect(stepRetrySpanMs(retries, { attemptMs, ...(capMs === undefined ? {} : { retryAfterCapMs: capMs }) })).toBe(spanMs);
  });
});

describe("the watch lease and a poll step's retries", () => {
  test("the watcher declares the retries its lease is sized for", () => {
    expect((functionById("watch-batch").opts as { retries?: number }).retries).toBe(WATCH_POLL_RETRIES);
  });

  test.each([1_000, 30_000, 120_000])("with a %i ms provider timeout the lease outlasts every retry of a poll, each taking that long", (providerTimeoutMs) => {
    const span = stepRetrySpanMs(WATCH_POLL_RETRIES, { attemptMs: providerTimeoutMs, retryAfterCapMs: PROVIDER_RETRY_AFTER_CAP_MS });
    expect(watchLeaseGraceMs(providerTimeoutMs)).toBeGreaterThan(span);
  });

  test.each([
    { retryAfterMs: 90 * SECOND, waits: "90" },
    { retryAfterMs: 10 * MINUTE, waits: String(PROVIDER_RETRY_AFTER_CAP_MS / SECOND) },
  ])("a provider's Retry-After of $retryAfterMs ms makes the step retry after $waits s", ({ retryAfterMs, waits }) => {
    const limited = new ProviderError("rate_limited", "slow down", { provider: "openai", retryAfterMs });
    let thrown: unknown;
    try {
      rethrowHonouringRateLimit(limited);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ name: "RetryAfterError", retryAfter: waits });
  });
});
