import { afterEach, describe, expect, test } from "vitest";
import { POST as openaiWebhookRoute } from "@/app/api/webhooks/openai/route";
import type { JobRow } from "@/lib/jobs/store";
import { handleTrackedEvent, trackBatch } from "@/lib/track/tracking";
import { readConfig } from "@/lib/config";
import { stepRetrySpanMs } from "@/lib/engine-backoff";
import {
  NOT_FOUND_GRACE_MS,
  pollOnce,
  PROVIDER_RETRY_AFTER_CAP_MS,
  reviveLostWatchers,
  WATCH_DEADLINE_MARGIN_MS,
  WATCH_POLL_RETRIES,
} from "@/lib/watch/watching";
import { signedOpenAIWebhook } from "../helpers/fake-openai";
import { useFlow } from "../helpers/flow";
import { functionById } from "../helpers/inngest-harness";

const OPENAI_WEBHOOK_SECRET = "whsec_" + Buffer.alloc(24, 3).toString("base64");
const HOUR = 3_600_000;

const flow = useFlow({ openai: true, env: { OPENAI_WEBHOOK_SECRET } });
afterEach(() => {
  delete process.env.BATCHWATCH_POLLS_PER_RUN;
});

async function job(): Promise<JobRow> {
  const [row] = await flow.db.query<JobRow>("SELECT * FROM jobs");
  return row!;
}

async function track(batchId: string, provider: "openai" | "simulated" = "openai", webhookUrl = flow.receiver.url) {
  return trackBatch(flow.db, { provider, batchId, webhookUrl }, flow.send);
}

async function deliverOpenAIWebhook(batchId: string, webhookId: string, type = "batch.completed") {
  const response = await openaiWebhookRoute(
    signedOpenAIWebhook({ secret: OPENAI_WEBHOOK_SECRET, webhookId, type, objectId: batchId, timestampSeconds: Math.floor(Date.now() / 1000) }),
    {},
  );
  expect(response.status).toBe(200);
}

describe("watching by polling", () => {
  test.each([
    ["completed", "batch.completed"],
    ["failed", "batch.failed"],
    ["expired", "batch.expired"],
    ["cancelled", "batch.cancelled"],
  ])("a batch the provider reports %s settles once and is delivered as %s", async (status, type) => {
    flow.openai.setBatch("batch_poll", { status: "in_progress" });
    await track("batch_poll");
    await flow.harness.drain({ only: ["track-batch"] });
    flow.openai.setBatch("batch_poll", { status, requestCounts: { total: 10, completed: 9, failed: 1 } });
    await flow.harness.drain();

    expect(await job()).toMatchObject({ status, outcome: status, settled_by: "poll", settle_reason: null });
    expect(flow.receiver.received.map((r) => r.verified?.type)).toEqual([type]);
  });

  test("a long watch continues in fresh runs of the same generation and settles once", async () => {
    process.env.BATCHWATCH_POLLS_PER_RUN = "2";
    await track("sim_3h_completed_100", "simulated");
    await flow.harness.drain({ maxRuns: 400 });

    const watchRuns = flow.harness.runs.filter((run) => run.functionId === "watch-batch");
    expect(watchRuns.length).toBeGreaterThan(2);
    const continuations = flow.harness.named("batch/watch.requested").map((event) => event.data.continuation);
    expect(continuations).toEqual(continuations.map((_, index) => index));
    expect(new Set(flow.harness.named("batch/watch.requested").map((event) => event.data.generation))).toEqual(new Set([1]));
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("a batch that never ends settles as failed with reason watch_timeout after the completion window", async () => {
    flow.openai.setBatch("batch_stuck", { status: "in_progress", expiresAt: null });
    await track("batch_stuck");
    const trackedAt = flow.harness.now();
    await flow.harness.drain({ maxRuns: 400 });

    expect(await job()).toMatchObject({ outcome: "failed", status: "failed", settle_reason: "watch_timeout" });
    expect(flow.harness.now() - trackedAt).toBeGreaterThanOrEqual(24 * HOUR + WATCH_DEADLINE_MARGIN_MS);
    expect(flow.receiver.received[0]!.verified).toMatchObject({ type: "batch.failed", reason: "watch_timeout" });
    // A batch that never moves is polled within its watch window (55 s + 1.5% of its age): about
    // 220 polls over the 26 hours, each a full poll through the harness. That takes 30–60 s alone
    // and passed 120 s on a machine at load 30–50, so the bound is generous: it only stops a hang.
  }, 300_000);
});

describe("the watch deadline", () => {
  test("a batch that ended just before the deadline settles with its real outcome, not watch_timeout", async () => {
    flow.openai.setBatch("batch_late", { status: "in_progress", expiresAt: null });
    await track("batch_late");
    await flow.harness.drain({ only: ["track-batch"] });
    const [watch] = flow.harness.discardPending("batch/watch.requested");
    flow.harness.advance(24 * HOUR + WATCH_DEADLINE_MARGIN_MS + 60_000);
    flow.openai.setBatch("batch_late", { status: "completed" });

    const decision = await pollOnce(flow.db, { jobId: (await job()).id, generation: watch!.data.generation as number }, flow.send);
    expect(decision).toEqual({ action: "stop", why: "settled_now" });
    expect(await job()).toMatchObject({ outcome: "completed", settle_reason: null });
  });

  test("past the deadline a provider that keeps failing ends the watch as watch_timeout", async () => {
    flow.openai.setBatch("batch_down", { status: "in_progress", expiresAt: null });
    await track("batch_down");
    await flow.harness.drain({ only: ["track-batch"] });
    const [watch] = flow.harness.discardPending("batch/watch.requested");
    flow.harness.advance(24 * HOUR + WATCH_DEADLINE_MARGIN_MS + 60_000);
    flow.openai.failNext({ status: 503 });

    await pollOnce(flow.db, { jobId: (await job()).id, generation: watch!.data.generation as number }, flow.send);
    expect(await job()).toMatchObject({ outcome: "failed", settle_reason: "watch_timeout" });
  });
});

describe("provider errors while watching", () => {
  test("invalid credentials settle the watch as failed with reason credentials", async () => {
    flow.openai.failNext({ status: 401 });
    await track("batch_401");
    await flow.harness.drain();
    expect(await job()).toMatchObject({ outcome: "failed", settle_reason: "credentials" });
    expect(flow.receiver.received[0]!.verified).toMatchObject({ type: "batch.failed", reason: "credentials" });
  });

  test("a batch id the provider does not know settles as not_found only after it stayed unknown for 10 minutes", async () => {
    await track("batch_unknown");
    const trackedAt = flow.harness.now();
    await flow.harness.drain();
    expect(await job()).toMatchObject({ outcome: "failed", settle_reason: "not_found" });
    expect(flow.harness.now() - trackedAt).toBeGreaterThanOrEqual(NOT_FOUND_GRACE_MS);
  });

  test("a rate limit waits the provider's Retry-After, then polling resumes", async () => {
    flow.openai.setBatch("batch_429", { status: "completed" });
    flow.openai.failNext({ status: 429, headers: { "retry-after": "90" } });
    await track("batch_429");
    await flow.harness.drain({ only: ["track-batch"] });
    const before = flow.harness.now();
    await flow.harness.drain();

    const watchRuns = flow.harness.runs.filter((run) => run.functionId === "watch-batch");
    expect(watchRuns[0]!.error?.name).toBe("RetryAfterError");
    expect(flow.harness.now() - before).toBeGreaterThanOrEqual(90_000);
    expect(await job()).toMatchObject({ outcome: "completed" });
  });

  test.each([500, 503])("a provider %i is retried and the watch goes on", async (status) => {
    flow.openai.setBatch("batch_5xx", { status: "completed" });
    flow.openai.failNext({ status });
    await track("batch_5xx");
    await flow.harness.drain();
    expect(flow.harness.runs.filter((run) => run.functionId === "watch-batch" && run.error)).toHaveLength(1);
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "poll" });
  });
});

describe("native signals settle within seconds, whenever they arrive (invariant 3)", () => {
  test("while the watcher sleeps: settled by the signal, the waking watcher exits", async () => {
    flow.openai.setBatch("batch_sig", { status: "in_progress" });
    await track("batch_sig");
    await flow.harness.drain({ only: ["track-batch"] });
    const [watch] = flow.harness.discardPending("batch/watch.requested");
    const { generation } = watch!.data as { generation: number };
    expect(await pollOnce(flow.db, { jobId: (await job()).id, generation }, flow.send)).toMatchObject({ action: "sleep" });

    flow.openai.setBatch("batch_sig", { status: "completed" });
    const before = flow.harness.now();
    await deliverOpenAIWebhook("batch_sig", "wh_1");
    await flow.harness.drain();
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "signal" });
    expect(flow.harness.now() - before).toBeLessThan(5_000);

    const run = await flow.harness.runOnce(functionById("watch-batch"), watch!);
    expect(run.result).toMatchObject({ stopped: "settled" });
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("between a poll and its sleep: the stale observation does not undo the settlement", async () => {
    flow.openai.setBatch("batch_race", { status: "in_progress" });
    await track("batch_race");
    await flow.harness.drain({ only: ["track-batch"] });
    const [watch] = flow.harness.discardPending("batch/watch.requested");
    const held = flow.openai.holdNext();
    const polling = pollOnce(flow.db, { jobId: (await job()).id, generation: watch!.data.generation as number }, flow.send);
    await held.reached;

    // The poll's request is in flight (it will answer in_progress); the webhook settles meanwhile.
    flow.openai.setBatch("batch_race", { status: "completed" });
    await deliverOpenAIWebhook("batch_race", "wh_race");
    await flow.harness.drain();
    flow.openai.setBatch("batch_race", { status: "in_progress" });
    held.release();
    await polling;

    expect(await job()).toMatchObject({ status: "completed", outcome: "completed", settled_by: "signal" });
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("before the batch was tracked: the signal is kept and applied at tracking", async () => {
    flow.openai.setBatch("batch_early", { status: "completed" });
    await deliverOpenAIWebhook("batch_early", "wh_early");
    await flow.harness.drain();
    expect(flow.harness.runs.at(-1)!.result).toMatchObject({ outcome: "not_tracked" });

    await track("batch_early");
    await flow.harness.drain({ only: ["track-batch", "settle-batch", "deliver-webhook"] });
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "signal" });
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("twice (a retry of one webhook and a second webhook): one settlement, one delivery", async () => {
    flow.openai.setBatch("batch_twice", { status: "completed" });
    await track("batch_twice");
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.discardPending("batch/watch.requested");
    await deliverOpenAIWebhook("batch_twice", "wh_a");
    await deliverOpenAIWebhook("batch_twice", "wh_a");
    await deliverOpenAIWebhook("batch_twice", "wh_b");
    await flow.harness.drain();

    const inbound = await flow.db.query("SELECT webhook_id FROM inbound_events ORDER BY id");
    expect(inbound).toEqual([{ webhook_id: "wh_a" }, { webhook_id: "wh_b" }]);
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("a signal the provider does not confirm yet is retried shortly, then settles", async () => {
    flow.openai.setBatch("batch_lag", { status: "finalizing" });
    await track("batch_lag");
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.discardPending("batch/watch.requested");
    await deliverOpenAIWebhook("batch_lag", "wh_lag");
    // The first confirmation sees "finalizing"; the provider catches up before the retry.
    const settle = flow.harness.drain({ only: ["settle-batch", "deliver-webhook"] });
    flow.openai.setBatch("batch_lag", { status: "completed" });
    await settle;
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "signal" });
  });
});

describe("tracking", () => {
  test.each([
    ["gemini", "123", "batches/123"],
    ["gemini", "batches/123", "batches/123"],
    ["openai", "batch_123", "batch_123"],
  ])("a %s batch tracked as %s is stored as %s, so native webhooks find it", async (provider, given, stored) => {
    process.env.GEMINI_API_KEY = "test-key";
    try {
      const result = await trackBatch(flow.db, { provider, batchId: given, webhookUrl: flow.receiver.url }, flow.send);
      expect(result.job.batch_id).toBe(stored);
    } finally {
      delete process.env.GEMINI_API_KEY;
    }
  });

  test("tracking the same batch and destination again returns the same subscription", async () => {
    const first = await track("batch_same");
    const second = await track("batch_same");
    expect(second.created).toBe(false);
    expect(second.subscription.id).toBe(first.subscription.id);
    expect(await flow.db.query("SELECT id FROM subscriptions")).toHaveLength(1);
  });

  test("a batch/tracked event sent by a user's own app records its subscription and starts one watcher", async () => {
    flow.openai.setBatch("batch_user", { status: "completed" });
    flow.harness.send({ name: "batch/tracked", data: { provider: "openai", batchId: "batch_user", webhookUrl: flow.receiver.url } });
    flow.harness.send({ name: "batch/tracked", data: { provider: "openai", batchId: "batch_user", webhookUrl: flow.receiver.url } });
    await flow.harness.drain();
    expect(await flow.db.query("SELECT id FROM subscriptions")).toHaveLength(1);
    expect(flow.harness.named("batch/watch.requested")).toHaveLength(1);
    expect(flow.receiver.received).toHaveLength(1);
  });

  test.each([
    ["metadata over 4 KB", { metadata: { blob: "x".repeat(5000) } }],
    ["an eval run without evalId", { kind: "eval_run" }],
    ["a kind the provider does not offer", { provider: "simulated", batchId: "sim_1m_completed", kind: "response" }],
  ])("a batch/tracked event from a user's app with %s fails without recording anything", async (_, fields) => {
    flow.harness.send({ name: "batch/tracked", data: { provider: "openai", batchId: "batch_bad", webhookUrl: flow.receiver.url, ...fields } });
    await flow.harness.drain();
    expect(flow.harness.runs.at(-1)!.error?.name).toBe("NonRetriableError");
    expect(await flow.db.query("SELECT id FROM subscriptions")).toEqual([]);
    expect(await flow.db.query("SELECT id FROM jobs")).toEqual([]);
  });

  test("a second tracking while a watcher is live starts no second watcher", async () => {
    flow.openai.setBatch("batch_live", { status: "in_progress" });
    const first = await track("batch_live");
    await track("batch_live", "openai", flow.receiver.url + "?second=1");
    const results = await Promise.all(
      flow.harness.pendingEvents().filter((event) => event.name === "batch/tracked").map((event) => handleTrackedEvent(flow.db, event.data as never, flow.send)),
    );
    expect(results.filter((result) => result.watchStarted)).toHaveLength(1);
    expect(first.job.id).toBe((await job()).id);
  });
});

describe("the reconciler", () => {
  test.each([
    { outage: "a provider failing every attempt but the last (table backoff, full jitter)", retryAfterCapMs: undefined },
    { outage: "a provider rate-limiting every attempt but the last (Retry-After at its cap)", retryAfterCapMs: PROVIDER_RETRY_AFTER_CAP_MS },
  ])("starts no second watcher while a poll step still retries through $outage", async ({ retryAfterCapMs }) => {
    flow.openai.setBatch("batch_outage", { status: "in_progress" });
    await track("batch_outage");
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.discardPending("batch/watch.requested");
    const watching = await job();
    const polled = await pollOnce(flow.db, { jobId: watching.id, generation: watching.watch_generation }, flow.send);
    expect(polled.action).toBe("sleep");

    // The next poll wakes on time, and each of its attempts takes the whole provider timeout.
    flow.harness.advance((polled as { delayMs: number }).delayMs);
    const attemptMs = readConfig().providerTimeoutMs;
    flow.harness.advance(stepRetrySpanMs(WATCH_POLL_RETRIES, { attemptMs, ...(retryAfterCapMs ? { retryAfterCapMs } : {}) }));
    expect(await reviveLostWatchers(flow.db, flow.send)).toEqual([]);
    expect((await job()).watch_generation).toBe(watching.watch_generation);

    // A watcher that is really gone is still revived once its lease lapses.
    flow.harness.advance((await job()).watch_lease_until!.getTime() - flow.harness.now() + 1);
    expect(await reviveLostWatchers(flow.db, flow.send)).toEqual([watching.id]);
  });

  test("revives a job whose watcher was lost, and the stale watcher exits", async () => {
    flow.openai.setBatch("batch_lost", { status: "in_progress" });
    await track("batch_lost");
    await flow.harness.drain({ only: ["track-batch"] });
    const [lostWatch] = flow.harness.discardPending("batch/watch.requested");

    flow.harness.advance(HOUR);
    await flow.harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    const [revived] = flow.harness.discardPending("batch/watch.requested");
    expect(revived!.data).toMatchObject({ generation: 2, continuation: 0 });

    const stale = await flow.harness.runOnce(functionById("watch-batch"), lostWatch!);
    expect(stale.result).toMatchObject({ stopped: "superseded" });
    flow.openai.setBatch("batch_lost", { status: "completed" });
    flow.harness.requeue(revived!);
    await flow.harness.drain();
    expect(await job()).toMatchObject({ outcome: "completed" });
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("delivers to a subscriber of a settled job whose track-batch run never ran", async () => {
    flow.openai.setBatch("batch_latecomer", { status: "completed" });
    await track("batch_latecomer");
    await flow.harness.drain();
    expect(flow.receiver.received).toHaveLength(1);

    await track("batch_latecomer", "openai", `${flow.receiver.url}?late=1`);
    flow.harness.discardPending("batch/tracked");
    flow.harness.advance(10 * 60_000);
    await flow.harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    await flow.harness.drain();
    expect(flow.receiver.received).toHaveLength(2);
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
  });

  test("sends deliveries that were recorded but never sent (a crash between steps)", async () => {
    flow.openai.setBatch("batch_crash", { status: "completed" });
    await track("batch_crash");
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.failSends = true;
    await flow.harness.drain({ only: ["watch-batch"] }).catch(() => undefined);
    flow.harness.failSends = false;
    expect(await job()).toMatchObject({ outcome: "completed" });
    expect(flow.receiver.received).toHaveLength(0);

    flow.harness.advance(10 * 60_000);
    await flow.harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    await flow.harness.drain();
    expect(flow.receiver.received).toHaveLength(1);
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
  });
});
