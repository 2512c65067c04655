import { describe, expect, test } from "vitest";
import { POST as openaiWebhookRoute } from "@/app/api/webhooks/openai/route";
import { now } from "@/lib/clock";
import type { JobKind } from "@/lib/providers/types";
import { trackBatch } from "@/lib/track/tracking";
import { signedOpenAIWebhook } from "../helpers/fake-openai";
import { useFlow } from "../helpers/flow";
import { functionById } from "../helpers/inngest-harness";
import { evalRun, fineTuningJob, openAIResponse } from "../providers/fixtures/openai";

const OPENAI_WEBHOOK_SECRET = "whsec_" + Buffer.alloc(24, 5).toString("base64");
const EVAL_ID = "eval_123";

/** Each OpenAI kind: where the API serves it, a fixture shaped like the API reference, and its in-progress status. */
const KINDS: Record<Exclude<JobKind, "batch">, { id: string; path: (id: string) => string; body: (status: string, id: string) => Record<string, unknown>; running: string }> = {
  response: { id: "resp_1", path: (id) => `/v1/responses/${id}`, body: (status, id) => ({ ...openAIResponse(status), id }), running: "in_progress" },
  fine_tuning_job: { id: "ftjob-1", path: (id) => `/v1/fine_tuning/jobs/${id}`, body: (status, id) => ({ ...fineTuningJob(status), id }), running: "running" },
  eval_run: { id: "evalrun_1", path: (id) => `/v1/evals/${EVAL_ID}/runs/${id}`, body: (status, id) => ({ ...evalRun(status), id, eval_id: EVAL_ID }), running: "in_progress" },
};

const flow = useFlow({ openai: true, env: { OPENAI_WEBHOOK_SECRET } });

function serve(kind: keyof typeof KINDS, status: string) {
  const spec = KINDS[kind];
  // Created a minute before "now", so the watch is well within the kind's completion window.
  flow.openai.setObject(spec.path(spec.id), { ...spec.body(status, spec.id), created_at: Math.floor(now() / 1000) - 60 });
}

function track(kind: keyof typeof KINDS) {
  return trackBatch(flow.db, {
    provider: "openai",
    kind,
    batchId: KINDS[kind].id,
    ...(kind === "eval_run" ? { evalId: EVAL_ID } : {}),
    webhookUrl: flow.receiver.url,
  }, flow.send);
}

async function nativeWebhook(kind: keyof typeof KINDS, type: string, webhookId: string) {
  const response = await openaiWebhookRoute(
    signedOpenAIWebhook({ secret: OPENAI_WEBHOOK_SECRET, webhookId, type, objectId: KINDS[kind].id, timestampSeconds: Math.floor(Date.now() / 1000) }),
    {},
  );
  expect(response.status).toBe(200);
}

describe.each([
  ["response", "completed", "response.completed", "completed"],
  ["response", "incomplete", "response.incomplete", "completed"],
  ["response", "failed", "response.failed", "failed"],
  ["response", "cancelled", "response.cancelled", "cancelled"],
  ["fine_tuning_job", "succeeded", "fine_tuning.job.succeeded", "completed"],
  ["fine_tuning_job", "failed", "fine_tuning.job.failed", "failed"],
  ["fine_tuning_job", "cancelled", "fine_tuning.job.cancelled", "cancelled"],
  ["eval_run", "completed", "eval.run.succeeded", "completed"],
  ["eval_run", "failed", "eval.run.failed", "failed"],
  ["eval_run", "canceled", "eval.run.canceled", "cancelled"],
] as const)("%s ending %s", (kind, providerStatus, type, status) => {
  test(`polled to the end, it is delivered once as ${type}`, async () => {
    serve(kind, KINDS[kind].running);
    await track(kind);
    await flow.harness.drain({ only: ["track-batch"] });
    serve(kind, providerStatus);
    await flow.harness.drain();

    expect(flow.receiver.received).toHaveLength(1);
    expect(flow.receiver.received[0]!.verified).toMatchObject({ type, kind, status, providerStatus, requestCounts: kind === "eval_run" ? expect.anything() : null });
    expect(flow.receiver.received[0]!.verified).toHaveProperty("detail");
  });

  test(`a native ${type} webhook settles it within seconds`, async () => {
    serve(kind, KINDS[kind].running);
    await track(kind);
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.discardPending("batch/watch.requested");
    serve(kind, providerStatus);
    const before = flow.harness.now();
    await nativeWebhook(kind, type, `wh_${kind}_${providerStatus}`);
    await flow.harness.drain();
    expect(flow.harness.now() - before).toBeLessThan(5_000);
    expect(flow.receiver.received.map((r) => r.verified?.type)).toEqual([type]);
  });
});

describe.each(Object.keys(KINDS) as (keyof typeof KINDS)[])("a native signal for a %s", (kind) => {
  const endStatus = kind === "fine_tuning_job" ? "succeeded" : "completed";
  const endType = { response: "response.completed", fine_tuning_job: "fine_tuning.job.succeeded", eval_run: "eval.run.succeeded" }[kind];

  test("that arrives before tracking is applied when it is tracked", async () => {
    serve(kind, endStatus);
    await nativeWebhook(kind, endType, `early_${kind}`);
    await flow.harness.drain();
    await track(kind);
    await flow.harness.drain({ only: ["track-batch", "settle-batch", "deliver-webhook"] });
    expect(flow.receiver.received.map((r) => r.verified?.type)).toEqual([endType]);
  });

  test("that arrives twice settles once", async () => {
    serve(kind, endStatus);
    await track(kind);
    await flow.harness.drain({ only: ["track-batch"] });
    flow.harness.discardPending("batch/watch.requested");
    await nativeWebhook(kind, endType, `a_${kind}`);
    await nativeWebhook(kind, endType, `a_${kind}`);
    await nativeWebhook(kind, endType, `b_${kind}`);
    await flow.harness.drain();
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    expect(flow.receiver.received).toHaveLength(1);
  });

  test("that arrives while the watcher sleeps leaves the waking watcher nothing to do", async () => {
    serve(kind, "queued");
    await track(kind);
    await flow.harness.drain({ only: ["track-batch"] });
    const [watch] = flow.harness.discardPending("batch/watch.requested");
    serve(kind, endStatus);
    await nativeWebhook(kind, endType, `sleep_${kind}`);
    await flow.harness.drain();
    const run = await flow.harness.runOnce(functionById("watch-batch"), watch!);
    expect(run.result).toMatchObject({ stopped: "settled" });
    expect(flow.receiver.received).toHaveLength(1);
  });
});
