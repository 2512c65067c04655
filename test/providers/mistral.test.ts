import { expect, test } from "vitest";
import { getProvider, type UnifiedStatus } from "@/lib/providers";
import { MISTRAL_STATUS_MAP } from "@/lib/providers/mistral";
import { ERROR_LINES, OUTPUT_LINES } from "./fixtures/openai";
import { collect } from "./helpers/collect";
import { useFakeProvider } from "./helpers/fake-provider";
import { jsonlRoute, sendJson } from "./helpers/fake-server";

/** Mistral batch jobs through @mistralai/mistralai against a local fake of `/v1/batch/jobs`. */

const server = useFakeProvider((url) => ({ MISTRAL_API_KEY: "mistral-test-key", MISTRAL_BASE_URL: url }));

const JOB_ID = "b8f5c0a2-8f5e-4e8a-9d3c-0c1f2d3e4f5a";
const JOB_PATH = `/v1/batch/jobs/${JOB_ID}`;

/** A BatchJobOut as in Mistral's API reference. */
function batchJob(status: string, fields: Record<string, unknown> = {}) {
  const ended = ["SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"].includes(status);
  return {
    id: JOB_ID,
    object: "batch",
    input_files: ["file-input-1"],
    metadata: { job_type: "testing" },
    endpoint: "/v1/chat/completions",
    model: "mistral-small-latest",
    agent_id: null,
    output_file: ended ? "file-output" : null,
    error_file: ended ? "file-errors" : null,
    errors: status === "FAILED" ? [{ message: "Input file is not valid JSONL", count: 1 }] : [],
    outputs: null,
    status,
    created_at: 1_730_000_000,
    total_requests: 100,
    completed_requests: 70,
    succeeded_requests: 65,
    failed_requests: 5,
    started_at: status === "QUEUED" ? null : 1_730_000_060,
    completed_at: ended ? 1_730_003_600 : null,
    ...fields,
  };
}

const TERMINAL = new Set<UnifiedStatus>(["completed", "failed", "expired", "cancelled"]);

test.each(Object.entries(MISTRAL_STATUS_MAP))("maps status %s to %s", async (providerStatus, unified) => {
  server.json(`GET ${JOB_PATH}`, batchJob(providerStatus));

  const snapshot = await getProvider("mistral").retrieve(JOB_ID);

  expect(snapshot).toMatchObject({ provider: "mistral", id: JOB_ID, status: unified, providerStatus });
  expect(snapshot.terminal).toBe(TERMINAL.has(unified));
  expect(snapshot.endedAt).toBe(TERMINAL.has(unified) ? new Date(1_730_003_600_000).toISOString() : null);
});

test("maps total/succeeded/failed requests, with the not-yet-completed ones as processing", async () => {
  server.json(`GET ${JOB_PATH}`, batchJob("RUNNING"));
  const snapshot = await getProvider("mistral").retrieve(JOB_ID);
  expect(snapshot.requestCounts).toEqual({ total: 100, completed: 65, failed: 5, processing: 30 });
  expect(snapshot.progress).toBeCloseTo(0.7);
  expect(snapshot.createdAt).toBe(new Date(1_730_000_000_000).toISOString());
});

test("authenticates with a bearer key at MISTRAL_BASE_URL", async () => {
  server.json(`GET ${JOB_PATH}`, batchJob("RUNNING"));
  await getProvider("mistral").retrieve(JOB_ID);
  expect(server.requests[0]?.path).toBe(JOB_PATH);
  expect(server.requests[0]?.headers.authorization).toBe("Bearer mistral-test-key");
});

test("keeps job errors in raw", async () => {
  server.json(`GET ${JOB_PATH}`, batchJob("FAILED"));
  const snapshot = await getProvider("mistral").retrieve(JOB_ID);
  expect(snapshot.raw).toMatchObject({ errors: [{ message: "Input file is not valid JSONL", count: 1 }], errorFile: "file-errors" });
});

test.each([
  ["an unknown status", batchJob("HIBERNATING")],
  ["a job without counts", { ...batchJob("RUNNING"), total_requests: undefined }],
])("rejects %s as invalid_response", async (_case, body) => {
  server.json(`GET ${JOB_PATH}`, body);
  await expect(getProvider("mistral").retrieve(JOB_ID)).rejects.toMatchObject({ code: "invalid_response" });
});

test("streams the output file, then the error file", async () => {
  server.json(`GET ${JOB_PATH}`, batchJob("SUCCESS"));
  server.route("GET /v1/files/file-output/content", jsonlRoute(OUTPUT_LINES));
  server.route("GET /v1/files/file-errors/content", jsonlRoute(ERROR_LINES));

  const results = await collect(getProvider("mistral").results(JOB_ID));

  expect(results.map((result) => [result.customId, result.ok])).toEqual([
    ["request-1", true],
    [null, false],
    ["request-3", true],
    ["request-2", false],
    ["request-4", false],
  ]);
  expect(results[1]).toMatchObject({ error: { code: "malformed_line", line: 2 } });
});

/**
 * An inline batch (created with `requests`, no input file) has no output file: its results come
 * back in `outputs` when the job is read with `inline=true` (`client.batch.jobs.get({ inline: true })`).
 */
test("streams an inline batch's outputs from the job read with inline=true", async () => {
  const outputs = [
    { id: "out-1", custom_id: "0", response: { status_code: 200, body: { id: "cmpl-1", object: "chat.completion", choices: [] } }, error: null },
    { id: "out-2", custom_id: "1", response: { status_code: 400, body: { error: { message: "Invalid model", type: "invalid_request_error" } } }, error: null },
    { id: "out-3", custom_id: "2" },
  ];
  server.route(`GET ${JOB_PATH}`, (_request, response, url) =>
    sendJson(response, 200, batchJob("SUCCESS", { input_files: [], output_file: null, error_file: null, outputs: url.searchParams.get("inline") === "true" ? outputs : null })),
  );

  const results = await collect(getProvider("mistral").results(JOB_ID));

  expect(results).toEqual([
    { ok: true, customId: "0", body: { id: "cmpl-1", object: "chat.completion", choices: [] } },
    { ok: false, customId: "1", error: { code: "invalid_request_error", message: "Invalid model" } },
    { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 3 } },
  ]);
  expect(server.requests.map((request) => request.query.get("inline"))).toContain("true");
});

test("never asks for inline outputs of a batch that has result files", async () => {
  server.json(`GET ${JOB_PATH}`, batchJob("SUCCESS"));
  server.route("GET /v1/files/file-output/content", jsonlRoute(OUTPUT_LINES));
  server.route("GET /v1/files/file-errors/content", jsonlRoute(ERROR_LINES));
  await collect(getProvider("mistral").results(JOB_ID));
  expect(server.requests.map((request) => request.query.get("inline"))).not.toContain("true");
});
