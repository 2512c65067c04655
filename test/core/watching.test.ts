import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { POST as openaiWebhookRoute } from "@/app/api/webhooks/openai/route";
import { setDb } from "@/lib/db";
import type { JobRow } from "@/lib/jobs/store";
import { handleTrackedEvent, trackBatch } from "@/lib/tracking";
import { NOT_FOUND_GRACE_MS, pollOnce, WATCH_DEADLINE_MARGIN_MS } from "@/lib/watching";
import { createTestDatabase, resetDatabase, type TestDatabase } from "../helpers/db";
import { startFakeOpenAI, signedOpenAIWebhook } from "../helpers/fake-openai";
import { functionById, InngestHarness } from "../helpers/inngest-harness";
import { startReceiver } from "../helpers/receiver";

const OPENAI_WEBHOOK_SECRET = "whsec_" + Buffer.alloc(24, 3).toString("base64");
const HOUR = 3_600_000;

let testDb: TestDatabase;
let harness: InngestHarness;
let openai: Awaited<ReturnType<typeof startFakeOpenAI>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  setDb(testDb.db);
  openai = await startFakeOpenAI();
  receiver = await startReceiver({ secret: process.env.BATCH_WEBHOOK_SECRET!, now: () => harness.now() });
  process.env.OPENAI_WEBHOOK_SECRET = OPENAI_WEBHOOK_SECRET;
});
afterAll(async () => {
  delete process.env.OPENAI_WEBHOOK_SECRET;
  await Promise.all([openai.close(), receiver.close()]);
  setDb(undefined);
  await testDb.drop();
});
beforeEach(async () => {
  await resetDatabase(testDb.db);
  harness = await new InngestHarness().start();
  receiver.received.length = 0;
});
afterEach(async () => {
  delete process.env.BATCHWATCH_POLLS_PER_RUN;
  await harness.stop();
});

async function job(): Promise<JobRow> {
  const [row] = await testDb.db.query<JobRow>("SELECT * FROM jobs");
  return row!;
}

async function track(batchId: string, provider: "openai" | "simulated" = "openai", webhookUrl = receiver.url) {
  return trackBatch(testDb.db, { provider, batchId, webhookUrl });
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
    openai.setBatch("batch_poll", { status: "in_progress" });
    await track("batch_poll");
    await harness.drain({ only: ["track-batch"] });
    openai.setBatch("batch_poll", { status, requestCounts: { total: 10, completed: 9, failed: 1 } });
    await harness.drain();

    expect(await job()).toMatchObject({ status, outcome: status, settled_by: "poll", settle_reason: null });
    expect(receiver.received.map((r) => r.verified?.type)).toEqual([type]);
  });

  test("a long watch continues in fresh runs of the same generation and settles once", async () => {
    process.env.BATCHWATCH_POLLS_PER_RUN = "2";
    await track("sim_3h_completed_100", "simulated");
    await harness.drain({ maxRuns: 400 });

    const watchRuns = harness.runs.filter((run) => run.functionId === "watch-batch");
    expect(watchRuns.length).toBeGreaterThan(2);
    const continuations = harness.named("batch/watch.requested").map((event) => event.data.continuation);
    expect(continuations).toEqual(continuations.map((_, index) => index));
    expect(new Set(harness.named("batch/watch.requested").map((event) => event.data.generation))).toEqual(new Set([1]));
    expect(harness.named("batch/settled")).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  test("a batch that never ends settles as failed with reason watch_timeout after the completion window", async () => {
    openai.setBatch("batch_stuck", { status: "in_progress", expiresAt: null });
    await track("batch_stuck");
    const trackedAt = harness.now();
    await harness.drain({ maxRuns: 400 });

    expect(await job()).toMatchObject({ outcome: "failed", status: "failed", settle_reason: "watch_timeout" });
    expect(harness.now() - trackedAt).toBeGreaterThanOrEqual(24 * HOUR + WATCH_DEADLINE_MARGIN_MS);
    expect(receiver.received[0]!.verified).toMatchObject({ type: "batch.failed", reason: "watch_timeout" });
  });
});

describe("provider errors while watching", () => {
  test("invalid credentials settle the watch as failed with reason credentials", async () => {
    openai.failNext({ status: 401 });
    await track("batch_401");
    await harness.drain();
    expect(await job()).toMatchObject({ outcome: "failed", settle_reason: "credentials" });
    expect(receiver.received[0]!.verified).toMatchObject({ type: "batch.failed", reason: "credentials" });
  });

  test("a batch id the provider does not know settles as not_found only after it stayed unknown for 10 minutes", async () => {
    await track("batch_unknown");
    const trackedAt = harness.now();
    await harness.drain();
    expect(await job()).toMatchObject({ outcome: "failed", settle_reason: "not_found" });
    expect(harness.now() - trackedAt).toBeGreaterThanOrEqual(NOT_FOUND_GRACE_MS);
  });

  test("a rate limit waits the provider's Retry-After, then polling resumes", async () => {
    openai.setBatch("batch_429", { status: "completed" });
    openai.failNext({ status: 429, headers: { "retry-after": "90" } });
    await track("batch_429");
    await harness.drain({ only: ["track-batch"] });
    const before = harness.now();
    await harness.drain();

    const watchRuns = harness.runs.filter((run) => run.functionId === "watch-batch");
    expect(watchRuns[0]!.error?.name).toBe("RetryAfterError");
    expect(harness.now() - before).toBeGreaterThanOrEqual(90_000);
    expect(await job()).toMatchObject({ outcome: "completed" });
  });

  test.each([500, 503])("a provider %i is retried and the watch goes on", async (status) => {
    openai.setBatch("batch_5xx", { status: "completed" });
    openai.failNext({ status });
    await track("batch_5xx");
    await harness.drain();
    expect(harness.runs.filter((run) => run.functionId === "watch-batch" && run.error)).toHaveLength(1);
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "poll" });
  });
});

describe("native signals settle within seconds, whenever they arrive (invariant 3)", () => {
  test("while the watcher sleeps: settled by the signal, the waking watcher exits", async () => {
    openai.setBatch("batch_sig", { status: "in_progress" });
    await track("batch_sig");
    await harness.drain({ only: ["track-batch"] });
    const [watch] = harness.discardPending("batch/watch.requested");
    const { generation } = watch!.data as { generation: number };
    expect(await pollOnce(testDb.db, { jobId: (await job()).id, generation })).toMatchObject({ action: "sleep" });

    openai.setBatch("batch_sig", { status: "completed" });
    const before = harness.now();
    await deliverOpenAIWebhook("batch_sig", "wh_1");
    await harness.drain();
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "signal" });
    expect(harness.now() - before).toBeLessThan(5_000);

    const run = await harness.runOnce(functionById("watch-batch"), watch!);
    expect(run.result).toMatchObject({ stopped: "settled" });
    expect(receiver.received).toHaveLength(1);
  });

  test("between a poll and its sleep: the stale observation does not undo the settlement", async () => {
    openai.setBatch("batch_race", { status: "in_progress" });
    await track("batch_race");
    await harness.drain({ only: ["track-batch"] });
    const [watch] = harness.discardPending("batch/watch.requested");
    const held = openai.holdNext();
    const polling = pollOnce(testDb.db, { jobId: (await job()).id, generation: watch!.data.generation as number });
    await held.reached;

    // The poll's request is in flight (it will answer in_progress); the webhook settles meanwhile.
    openai.setBatch("batch_race", { status: "completed" });
    await deliverOpenAIWebhook("batch_race", "wh_race");
    await harness.drain();
    openai.setBatch("batch_race", { status: "in_progress" });
    held.release();
    await polling;

    expect(await job()).toMatchObject({ status: "completed", outcome: "completed", settled_by: "signal" });
    expect(harness.named("batch/settled")).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  test("before the batch was tracked: the signal is kept and applied at tracking", async () => {
    openai.setBatch("batch_early", { status: "completed" });
    await deliverOpenAIWebhook("batch_early", "wh_early");
    await harness.drain();
    expect(harness.runs.at(-1)!.result).toMatchObject({ outcome: "not_tracked" });

    await track("batch_early");
    await harness.drain({ only: ["track-batch", "settle-batch", "deliver-webhook"] });
    expect(await job()).toMatchObject({ outcome: "completed", settled_by: "signal" });
    expect(receiver.received).toHaveLength(1);
  });

  test("twice (a retry of one webhook and a second webhook): one settlement, one delivery", async () => {
    openai.setBatch("batch_twice", { status: "completed" });
    await track("batch_twice");
    await harness.drain({ only: ["track-batch"] });
    harness.discardPending("batch/watch.requested");
    await deliverOpenAIWebhook("batch_twice", "wh_a");
    await deliverOpenAIWebhook("batch_twice", "wh_a");
    await deliverOpenAIWebhook("batch_twice", "wh_b");
    await harness.drain();

    const inbound = await testDb.db.query("SELECT webhook_id FROM inbound_events ORDER BY id");
    expect(inbound).toEqual([{ webhook_id: "wh_a" }, { webhook_id: "wh_b" }]);
    expect(harness.named("batch/settled")).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  test("a signal the provider does not confirm yet is retried shortly, then settles", async () => {
    openai.setBatch("batch_lag", { status: "finalizing" });
    await track("batch_lag");
    await harness.drain({ only: ["track-batch"] });
    harness.discardPending("batch/watch.requested");
    await deliverOpenAIWebhook("batch_lag", "wh_lag");
    // The first confirmation sees "finalizing"; the provider catches up before the retry.
    const settle = harness.drain({ only: ["settle-batch", "deliver-webhook"] });
    openai.setBatch("batch_lag", { status: "completed" });
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
      const result = await trackBatch(testDb.db, { provider, batchId: given, webhookUrl: receiver.url });
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
    expect(await testDb.db.query("SELECT id FROM subscriptions")).toHaveLength(1);
  });

  test("a batch/tracked event sent by a user's own app records its subscription and starts one watcher", async () => {
    openai.setBatch("batch_user", { status: "completed" });
    harness.send({ name: "batch/tracked", data: { provider: "openai", batchId: "batch_user", webhookUrl: receiver.url } });
    harness.send({ name: "batch/tracked", data: { provider: "openai", batchId: "batch_user", webhookUrl: receiver.url } });
    await harness.drain();
    expect(await testDb.db.query("SELECT id FROM subscriptions")).toHaveLength(1);
    expect(harness.named("batch/watch.requested")).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  test("a second tracking while a watcher is live starts no second watcher", async () => {
    openai.setBatch("batch_live", { status: "in_progress" });
    const first = await track("batch_live");
    await track("batch_live", "openai", receiver.url + "?second=1");
    const results = await Promise.all(
      harness.pendingEvents().filter((event) => event.name === "batch/tracked").map((event) => handleTrackedEvent(testDb.db, event.data as never)),
    );
    expect(results.filter((result) => result.watchStarted)).toHaveLength(1);
    expect(first.job.id).toBe((await job()).id);
  });
});

describe("the reconciler", () => {
  test("revives a job whose watcher was lost, and the stale watcher exits", async () => {
    openai.setBatch("batch_lost", { status: "in_progress" });
    await track("batch_lost");
    await harness.drain({ only: ["track-batch"] });
    const [lostWatch] = harness.discardPending("batch/watch.requested");

    harness.advance(HOUR);
    await harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    const [revived] = harness.discardPending("batch/watch.requested");
    expect(revived!.data).toMatchObject({ generation: 2, continuation: 0 });

    const stale = await harness.runOnce(functionById("watch-batch"), lostWatch!);
    expect(stale.result).toMatchObject({ stopped: "superseded" });
    openai.setBatch("batch_lost", { status: "completed" });
    harness.requeue(revived!);
    await harness.drain();
    expect(await job()).toMatchObject({ outcome: "completed" });
    expect(receiver.received).toHaveLength(1);
  });

  test("sends deliveries that were recorded but never sent (a crash between steps)", async () => {
    openai.setBatch("batch_crash", { status: "completed" });
    await track("batch_crash");
    await harness.drain({ only: ["track-batch"] });
    harness.failSends = true;
    await harness.drain({ only: ["watch-batch"] }).catch(() => undefined);
    harness.failSends = false;
    expect(await job()).toMatchObject({ outcome: "completed" });
    expect(receiver.received).toHaveLength(0);

    harness.advance(10 * 60_000);
    await harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    await harness.drain();
    expect(receiver.received).toHaveLength(1);
    expect(harness.named("batch/settled")).toHaveLength(1);
  });
});
