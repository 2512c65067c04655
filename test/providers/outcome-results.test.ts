import { describe, expect, test } from "vitest";
import { getProvider } from "@/lib/providers";
import { readOutcomeResults, RESULTS_POLICY, verdictOf } from "@/lib/settle/outcome-results";
import { openAIBatch } from "./fixtures/openai";
import { useFakeProvider } from "./helpers/fake-provider";

/**
 * Honest outcomes: a batch OpenAI calls completed in which every request failed (no output file,
 * an error file only) is told apart from a plain success, with the most common error read from the
 * error file through the adapter, and the read is bounded.
 */

const server = useFakeProvider((url) => ({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${url}/v1` }));

function errorLine(n: number, code: string, message: string): string {
  return JSON.stringify({
    id: `batch_req_${n}`,
    custom_id: `request-${n}`,
    response: { status_code: 400, request_id: `req_${n}`, body: { error: { message, type: "invalid_request_error", code } } },
    error: null,
  });
}

async function resultsOf(batch: ReturnType<typeof openAIBatch>) {
  server.json(`GET /v1/batches/${batch.id}`, batch);
  const snapshot = await getProvider("openai").retrieve(batch.id as string);
  return readOutcomeResults(getProvider("openai"), snapshot, { kind: "batch" });
}

describe("a batch OpenAI calls completed", () => {
  test("with an error file and no output file is all_failed (no_output_file), with the most common error of the file", async () => {
    const lines = [
      errorLine(1, "model_not_found", "The model `gpt-5-nano-x` does not exist."),
      errorLine(2, "context_length_exceeded", "This model's maximum context length is 128000 tokens."),
      errorLine(3, "model_not_found", "The model `gpt-5-nano-x` does not exist."),
      errorLine(4, "model_not_found", "The model `gpt-5-nano-x` does not exist."),
    ];
    server.route("GET /v1/files/file-errors/content", (_request, response) => {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      response.end(lines.join("\n"));
    });
    const results = await resultsOf(
      openAIBatch("completed", { output_file_id: null, error_file_id: "file-errors", request_counts: { total: 4, completed: 0, failed: 4 } }),
    );
    expect(results).toEqual({
      verdict: "all_failed",
      reason: "no_output_file",
      commonError: { code: "model_not_found", message: "The model `gpt-5-nano-x` does not exist.", count: 3 },
      errorsRead: 4,
    });
    expect(server.requests.map((request) => request.path)).not.toContain("/v1/files/file-output/content");
  });

  test(`reads at most ${RESULTS_POLICY.maxResults} lines of a huge error file`, async () => {
    const total = RESULTS_POLICY.maxResults * 3;
    server.route("GET /v1/files/file-errors/content", (_request, response) => {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      for (let n = 1; n <= total; n += 1) response.write(`${errorLine(n, "rate_limit_exceeded", "Too many requests")}\n`);
      response.end();
    });
    const results = await resultsOf(
      openAIBatch("completed", { output_file_id: null, error_file_id: "file-errors", request_counts: { total, completed: 0, failed: total } }),
    );
    expect(results).toMatchObject({ verdict: "all_failed", errorsRead: RESULTS_POLICY.maxResults });
    expect(results!.commonError).toMatchObject({ code: "rate_limit_exceeded", count: RESULTS_POLICY.maxResults });
  });

  test("whose error file cannot be read keeps its verdict without a common error", async () => {
    server.json("GET /v1/files/file-errors/content", { error: { message: "gone", type: "invalid_request_error" } }, 404);
    const results = await resultsOf(
      openAIBatch("completed", { output_file_id: null, error_file_id: "file-errors", request_counts: { total: 2, completed: 0, failed: 2 } }),
    );
    expect(results).toEqual({ verdict: "all_failed", reason: "no_output_file", commonError: null, errorsRead: 0 });
  });

  test("that is not completed carries no results (its type already says how it ended)", async () => {
    expect(await resultsOf(openAIBatch("failed", { id: "batch_failed" }))).toBeNull();
  });
});

describe("the verdict", () => {
  const raw = (outputFileId: string | null, errorFileId: string | null) => ({ outputFileId, errorFileId });
  test.each([
    { counts: { total: 10, completed: 10, failed: 0 }, raw: raw("file-o", null), verdict: "all_succeeded", reason: "every_request_succeeded" },
    { counts: { total: 10, completed: 7, failed: 3 }, raw: raw("file-o", "file-e"), verdict: "partly_failed", reason: "some_requests_failed" },
    { counts: { total: 10, completed: 0, failed: 10 }, raw: raw(null, "file-e"), verdict: "all_failed", reason: "no_output_file" },
    { counts: { total: 10, completed: 0, failed: 10 }, raw: {}, verdict: "all_failed", reason: "every_request_failed" },
    { counts: null, raw: raw(null, "file-e"), verdict: "all_failed", reason: "no_output_file" },
    { counts: { total: 0, completed: 0, failed: 0 }, raw: {}, verdict: "no_requests", reason: "empty_batch" },
    { counts: null, raw: {}, verdict: "unknown", reason: "no_counts" },
  ])("counts $counts with files $raw: $verdict ($reason)", ({ counts, raw, verdict, reason }) => {
    expect(verdictOf({ requestCounts: counts, raw })).toEqual({ verdict, reason });
  });
});
