import { describe, expect, test } from "vitest";
import { getProvider, JOB_KINDS, type UnifiedStatus } from "@/lib/providers";
import { OPENAI_EVAL_RUN_STATUS_MAP, OPENAI_FINE_TUNING_STATUS_MAP, OPENAI_RESPONSE_STATUS_MAP } from "@/lib/providers/openai";
import { evalRun, fineTuningJob, openAIResponse } from "./fixtures/openai";
import { collect } from "./helpers/collect";
import { useFakeProvider } from "./helpers/fake-provider";

/** OpenAI's non-batch kinds: background responses, fine-tuning jobs and eval runs, via the openai SDK. */

const server = useFakeProvider((url) => ({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${url}/v1` }));

const TERMINAL = new Set<UnifiedStatus>(["completed", "failed", "expired", "cancelled"]);
const openai = () => getProvider("openai");

test("openai watches all four job kinds and receives native webhooks", () => {
  expect(openai().supportedKinds).toEqual(JOB_KINDS);
  expect(openai().nativeWebhooks).toBe(true);
  expect(openai().completionWindowMsByKind?.fine_tuning_job).toBeGreaterThan(openai().completionWindowMs);
});

describe("responses", () => {
  test.each(Object.entries(OPENAI_RESPONSE_STATUS_MAP))("maps status %s to %s", async (providerStatus, unified) => {
    const response = openAIResponse(providerStatus);
    server.json(`GET /v1/responses/${response.id}`, response);

    const snapshot = await openai().retrieve(response.id, { kind: "response" });

    expect(snapshot).toMatchObject({ kind: "response", id: response.id, status: unified, providerStatus });
    expect(snapshot.terminal).toBe(TERMINAL.has(unified));
    expect(snapshot.requestCounts).toBeNull();
    expect(snapshot.detail).toMatchObject({ model: "gpt-4.1-2025-04-14" });
  });

  test("keeps usage, output length and the incomplete reason in detail", async () => {
    const completed = openAIResponse("completed");
    server.json(`GET /v1/responses/${completed.id}`, completed);
    expect((await openai().retrieve(completed.id, { kind: "response" })).detail).toEqual({
      model: "gpt-4.1-2025-04-14",
      usage: { input_tokens: 36, output_tokens: 87, total_tokens: 123 },
      outputTextLength: "In a peaceful grove".length,
    });

    const incomplete = openAIResponse("incomplete");
    server.json(`GET /v1/responses/${incomplete.id}`, incomplete);
    const snapshot = await openai().retrieve(incomplete.id, { kind: "response" });
    expect(snapshot.status).toBe("completed");
    expect(snapshot.providerStatus).toBe("incomplete");
    expect(snapshot.detail).toMatchObject({ incompleteReason: "max_output_tokens" });
  });

  test("reports a failed response's error", async () => {
    const failed = openAIResponse("failed");
    server.json(`GET /v1/responses/${failed.id}`, failed);
    const snapshot = await openai().retrieve(failed.id, { kind: "response" });
    expect(snapshot.detail).toMatchObject({ error: { code: "server_error", message: "The model failed to generate a response." } });
  });
});

describe("fine-tuning jobs", () => {
  test.each(Object.entries(OPENAI_FINE_TUNING_STATUS_MAP))("maps status %s to %s", async (providerStatus, unified) => {
    server.json("GET /v1/fine_tuning/jobs/ftjob-abc123", fineTuningJob(providerStatus));

    const snapshot = await openai().retrieve("ftjob-abc123", { kind: "fine_tuning_job" });

    expect(snapshot).toMatchObject({ kind: "fine_tuning_job", status: unified, providerStatus, requestCounts: null });
    expect(snapshot.terminal).toBe(TERMINAL.has(unified));
  });

  // The SDK can pause and resume a job (fineTuning.jobs.pause/resume); the API reference lists
  // `pausing` and `paused` among the statuses. A paused job is not over: it must keep being watched.
  test.each(["pausing", "paused"])("watches a %s job as still in progress, never as invalid_response", async (providerStatus) => {
    server.json("GET /v1/fine_tuning/jobs/ftjob-abc123", fineTuningJob(providerStatus));

    const snapshot = await openai().retrieve("ftjob-abc123", { kind: "fine_tuning_job" });

    expect(snapshot).toMatchObject({ status: "in_progress", providerStatus, terminal: false, endedAt: null });
  });

  test("keeps the fine-tuned model and trained tokens in detail", async () => {
    server.json("GET /v1/fine_tuning/jobs/ftjob-abc123", fineTuningJob("succeeded"));
    const snapshot = await openai().retrieve("ftjob-abc123", { kind: "fine_tuning_job" });
    expect(snapshot.detail).toEqual({
      model: "gpt-4o-mini-2024-07-18",
      fineTunedModel: "ft:gpt-4o-mini:my-org:custom_suffix:id",
      trainedTokens: 5768,
      resultFiles: ["file-abc123"],
    });
    expect(snapshot.endedAt).toBe(new Date(1_721_768_400 * 1000).toISOString());
  });
});

describe("eval runs", () => {
  const runId = "evalrun_67e57965b480819094274e3a32235e4c";
  const evalId = "eval_67e579652b548190aaa83ada4b125f47";

  test.each(Object.entries(OPENAI_EVAL_RUN_STATUS_MAP))("maps status %s to %s", async (providerStatus, unified) => {
    server.json(`GET /v1/evals/${evalId}/runs/${runId}`, evalRun(providerStatus));

    const snapshot = await openai().retrieve(runId, { kind: "eval_run", evalId });

    expect(snapshot).toMatchObject({ kind: "eval_run", status: unified, providerStatus });
    expect(snapshot.terminal).toBe(TERMINAL.has(unified));
  });

  test("counts graded items as completed and errored items as failed", async () => {
    server.json(`GET /v1/evals/${evalId}/runs/${runId}`, evalRun("completed"));
    const snapshot = await openai().retrieve(runId, { kind: "eval_run", evalId });
    expect(snapshot.requestCounts).toEqual({ total: 10, completed: 9, failed: 1 });
    expect(snapshot.progress).toBeNull();
    expect(snapshot.detail).toMatchObject({ evalId, passed: 7, failedGrading: 2, errored: 1 });
    // An empty error object means no error.
    expect(snapshot.detail).not.toHaveProperty("error");
  });

  test("needs the eval id", async () => {
    await expect(openai().retrieve(runId, { kind: "eval_run" })).rejects.toMatchObject({ code: "not_found" });
    expect(server.requests).toHaveLength(0);
  });
});

test("results are only offered for batches", async () => {
  await expect(collect(openai().results("resp_1", { kind: "response" }))).rejects.toMatchObject({ code: "unsupported" });
});
