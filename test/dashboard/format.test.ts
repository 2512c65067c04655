import { describe, expect, test } from "vitest";
import {
  batchHref,
  batchIdFromSegments,
  displayUrl,
  etaText,
  eventFilterText,
  pathWithQuery,
  resultsText,
  progressBreakdown,
  relativeTime,
  pollsMade,
  statusTone,
  timingSummary,
  watchSummary,
} from "@/lib/dashboard/format";
import { buildTimeline, numberedAttempts } from "@/lib/dashboard/timeline";
import { OUTCOME_EVENT_TYPES } from "@/lib/deliver/unified-event";

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

describe("batch links", () => {
  test("keep a Gemini id's slash as a path segment and escape everything else", () => {
    expect(batchHref("gemini", "batches/123")).toBe("/batches/gemini/batches/123");
    expect(batchHref("openai", "batch_a b#c")).toBe("/batches/openai/batch_a%20b%23c");
    expect(batchHref("openai", "ftjob_1", "fine_tuning_job")).toBe("/batches/openai/ftjob_1?kind=fine_tuning_job");
    expect(batchHref("openai", "batch_1", "batch")).toBe("/batches/openai/batch_1");
  });
});

describe("the progress bar", () => {
  test("splits the total into completed, failed and remaining, with a sentence for screen readers", () => {
    expect(progressBreakdown({ total: 50, completed: 30, failed: 5 }, false)).toEqual({
      total: 50,
      completed: 30,
      failed: 5,
      remaining: 15,
      percent: { completed: 60, failed: 10, remaining: 30 },
      description: "30 of 50 requests completed, 5 failed, 15 remaining",
      processedPercent: 70,
    });
  });

  test("calls what is left of a settled batch 'not processed'", () => {
    expect(progressBreakdown({ total: 10, completed: 6, failed: 0 }, true)?.description).toBe(
      "6 of 10 requests completed, 0 failed, 4 not processed",
    );
  });

  test("never exceeds the total, and has nothing to show without counts", () => {
    expect(progressBreakdown({ total: 10, completed: 9, failed: 5 }, false)).toMatchObject({ completed: 9, failed: 1, remaining: 0 });
    expect(progressBreakdown(null, false)).toBeNull();
    expect(progressBreakdown({ total: 0, completed: 0, failed: 0 }, false)).toBeNull();
  });
});

describe("times and summaries", () => {
  test("are relative both ways", () => {
    expect(relativeTime(at(-3 * 60_000), NOW)).toBe("3 min ago");
    expect(relativeTime(at(20_000), NOW)).toBe("in 20 s");
    expect(relativeTime(at(-2_000), NOW)).toBe("just now");
    expect(relativeTime(at(-3 * 86_400_000), NOW)).toBe("3 d ago");
  });

  test("say when the next poll is, or how the batch settled", () => {
    const base = { settledAt: null, outcome: null, settleReason: null, nextPollAt: null, pollCount: 0 };
    expect(watchSummary(base, NOW)).toBe("waiting for the first poll");
    expect(watchSummary({ ...base, pollCount: 2, nextPollAt: at(45_000) }, NOW)).toBe("next poll in 45 s");
    expect(watchSummary({ ...base, settledAt: at(0), outcome: "completed" }, NOW)).toBe("completed");
    expect(watchSummary({ ...base, settledAt: at(0), outcome: "failed", settleReason: "watch_timeout" }, NOW)).toBe(
      "failed: watch timeout",
    );
  });

  test("call a poll long past its due time overdue", () => {
    const running = { settledAt: null, outcome: null, settleReason: null, pollCount: 3 };
    expect(watchSummary({ ...running, nextPollAt: at(-30_000) }, NOW)).toBe("polling now");
    expect(watchSummary({ ...running, nextPollAt: at(-10 * 60_000) }, NOW)).toBe("poll overdue by 10 min");
  });

  test("give the batches list a timing that does not repeat the status", () => {
    const job = { outcome: "completed", settleReason: null, nextPollAt: null, pollCount: 4, trackedAt: at(-26 * 3_600_000), providerCreatedAt: null };
    expect(timingSummary({ ...job, settledAt: at(-2 * 3_600_000) }, NOW)).toEqual({ text: "ran 24 h", overdue: false });
    expect(timingSummary({ ...job, outcome: "failed", settleReason: "watch_timeout", settledAt: at(0) }, NOW).text).toBe("ran 26 h · watch timeout");
    expect(timingSummary({ ...job, outcome: null, settledAt: null, nextPollAt: at(-5 * 60_000) }, NOW)).toEqual({
      text: "poll overdue by 5 min",
      overdue: true,
    });
  });

  test("count the poll that settled a job", () => {
    expect(pollsMade({ pollCount: 4, settledBy: "poll" })).toBe(5);
    expect(pollsMade({ pollCount: 4, settledBy: "signal" })).toBe(4);
  });

  test("round the share processed down, with thousands separators in the sentence", () => {
    expect(progressBreakdown({ total: 48_213, completed: 48_190, failed: 0 }, true)).toMatchObject({
      processedPercent: 99.9,
      description: "48,190 of 48,213 requests completed, 0 failed, 23 not processed",
    });
  });

  test("colour statuses consistently", () => {
    expect(statusTone("completed")).toBe("ok");
    expect(statusTone("delivered")).toBe("ok");
    expect(statusTone("failed")).toBe("bad");
    expect(statusTone("in_progress")).toBe("active");
    expect(statusTone("cancelled")).toBe("warn");
  });
});

describe("webhook URLs", () => {
  test("hide their query string, which often carries a token", () => {
    expect(displayUrl("https://hooks.example.com/b?token=s3cret")).toBe("https://hooks.example.com/b?…");
    expect(displayUrl("https://hooks.example.com/b")).toBe("https://hooks.example.com/b");
  });
});

describe("page links", () => {
  test("drop empty parameters", () => {
    expect(pathWithQuery("/batches", { status: "completed", provider: undefined, q: "" })).toBe("/batches?status=completed");
    expect(pathWithQuery("/batches", {})).toBe("/batches");
  });
});

describe("the timeline", () => {
  test("interleaves job events, deliveries and attempts by time, keeping ties in that order", () => {
    const entries = buildTimeline({
      events: [
        { at: at(0), type: "tracked", detail: {} },
        { at: at(0), type: "subscribed", detail: { destination: "url:https://r.example/h?k=1" } },
        { at: at(60_000), type: "polled", detail: { status: "in_progress", requestCounts: { total: 4, completed: 2, failed: 0 }, nextPollAt: at(90_000) } },
        { at: at(120_000), type: "settled", detail: { outcome: "completed", by: "poll", reason: null } },
      ],
      deliveries: [
        {
          id: "msg_1",
          jobId: "j",
          subscriptionId: "s1",
          endpointId: null,
          eventType: "batch.completed",
          status: "delivered",
          attemptCount: 2,
          lastStatusCode: 200,
          lastError: null,
          lastAttemptAt: at(150_000),
          deliveredAt: at(150_000),
          failedAt: null,
          createdAt: at(120_000),
          nextAttemptAt: null,
          closedReason: null,
          attempts: [
            { runId: "r", attempt: 2, attemptedAt: at(150_000), statusCode: 200, durationMs: 12, error: null, responseBody: "ok" },
            { runId: "r", attempt: 1, attemptedAt: at(121_000), statusCode: 503, durationMs: 40, error: "receiver answered 503", responseBody: "" },
          ],
        },
      ],
      subscriptions: [
        {
          id: "s1",
          jobId: "j",
          destination: { type: "url", url: "https://r.example/h?k=1" },
          metadata: {},
          disabledAt: null,
          disabledReason: null,
          createdAt: at(0),
          events: ["batch.completed"],
          eventsFrom: "subscription",
          group: null,
        },
      ],
    });
    expect(entries.map((entry) => entry.title)).toEqual([
      "Tracked",
      "Subscriber added",
      "Polled",
      "Settled: completed",
      "Delivery created: batch.completed",
      "Attempt 1: HTTP 503",
      "Attempt 2: HTTP 200",
    ]);
    expect(entries[1]!.facts).toEqual(["https://r.example/h?…"]);
    expect(entries[2]!.facts).toEqual(["status in progress", "2 completed, 0 failed of 4", "next poll in 30 s"]);
    expect(entries[5]).toMatchObject({ tone: "bad", facts: ["took 40 ms", "error: receiver answered 503", "delivery msg_1"] });
    expect(entries[6]).toMatchObject({ tone: "ok", facts: ["took 12 ms", "delivery msg_1"] });
  });

  test("numbers a delivery's attempts across runs, so a resend is attempt 2, not a second attempt 1", () => {
    const attempt = (runId: string, number: number, offsetMs: number) => ({
      runId,
      attempt: number,
      attemptedAt: at(offsetMs),
      statusCode: 200,
      durationMs: 5,
      error: null,
      responseBody: null,
    });
    expect(
      numberedAttempts([attempt("run-b", 1, 5_000), attempt("run-a", 1, 0)]).map(({ number, newRun, attempt }) => [number, newRun, attempt.runId]),
    ).toEqual([
      [1, false, "run-a"],
      [2, true, "run-b"],
    ]);
  });
});

describe("the timeline's job events", () => {
  test("keep the order they were recorded in, even when their clocks disagree", () => {
    const entries = buildTimeline({
      events: [
        { at: at(5_000), type: "tracked", detail: {} },
        { at: at(1_000), type: "watch_started", detail: { generation: 1 } },
        { at: at(9_000), type: "settled", detail: { outcome: "failed", by: "watcher", reason: "not_found" } },
      ],
      deliveries: [],
      subscriptions: [],
    });
    expect(entries.map((entry) => entry.title)).toEqual(["Tracked", "Watch started", "Settled: failed"]);
    expect(entries[2]!.facts).toEqual(["by watcher", "reason: not found"]);
  });
});

describe("the batch page's ETA", () => {
  test.each([
    {
      eta: { state: "estimated", expectedAt: at(20 * 60_000), earliestAt: at(15 * 60_000), latestAt: at(30 * 60_000), confidence: 0.75, basis: "pace", pastDeadline: false },
      text: "in 20 min (between 2026-11-23 12:15:00 UTC and 2026-11-23 12:30:00 UTC)",
    },
    {
      eta: { state: "estimated", expectedAt: at(2 * 60_000), earliestAt: at(60_000), latestAt: at(5 * 60_000), confidence: 0.5, basis: "finalizing", pastDeadline: true },
      text: "in 2 min (between 2026-11-23 12:01:00 UTC and 2026-11-23 12:05:00 UTC, finalizing) — past the provider's deadline at this pace",
    },
    {
      eta: { state: "not_enough_evidence", reason: "pace_not_established", latestAt: at(24 * 3_600_000) },
      text: "not enough evidence yet: progress has not moved steadily for long enough; the provider ends it by 2026-11-24 12:00:00 UTC",
    },
    { eta: { state: "not_enough_evidence", reason: "no_progress_reported", latestAt: null }, text: "not enough evidence yet: the provider reports no progress" },
    { eta: null, text: null },
  ] as const)("$eta.state $eta.reason reads: $text", ({ eta, text }) => {
    expect(etaText(eta, NOW)).toBe(text);
  });
});

describe("event filters as the dashboard shows them", () => {
  test.each([
    { events: [...OUTCOME_EVENT_TYPES], source: "default", text: "the four outcomes (default)" },
    { events: [...OUTCOME_EVENT_TYPES, "group.settled"], source: "own", text: "the four outcomes + group.settled" },
    { events: ["batch.failed", "batch.stalled"], source: "endpoint", text: "batch.failed, batch.stalled (the endpoint's default)" },
  ] as const)("$events from $source reads: $text", ({ events, source, text }) => {
    expect(eventFilterText(events, source)).toBe(text);
  });
});

describe("a completed batch's requests on the batch page", () => {
  test.each([
    { results: { verdict: "all_succeeded", reason: "every_request_succeeded", commonError: null, errorsRead: 0 }, text: "all succeeded" },
    {
      results: { verdict: "all_failed", reason: "no_output_file", commonError: { code: "model_not_found", message: "no such model", count: 3 }, errorsRead: 4 },
      text: "all failed; most common error: model_not_found: no such model (3 of 4 failures read)",
    },
    { results: { verdict: "unknown", reason: "no_counts", commonError: null, errorsRead: 0 }, text: null },
    { results: null, text: null },
  ] as const)("$results.verdict reads: $text", ({ results, text }) => {
    expect(resultsText(results)).toBe(text);
  });
});

describe("a batch page's id", () => {
  test.each([
    [["batch%20with%20space%3Cand%20angle%3E"], "batch with space<and angle>"],
    [["batches", "123"], "batches/123"],
    [["batch_%25ff"], "batch_%ff"],
    [["batch_%ff%fe"], "batch_%ff%fe"],
  ])("segments %j are the id %j, as the API reads it", (segments, id) => {
    expect(batchIdFromSegments(segments)).toBe(id);
  });
});
