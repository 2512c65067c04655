import { expect, onTestFinished, test, vi } from "vitest";
import { getProvider, type UnifiedStatus } from "@/lib/providers";
import { TOGETHER_STATUS_MAP } from "@/lib/providers/together";
import { ERROR_LINES, OUTPUT_LINES } from "./fixtures/openai";
import { collect } from "./helpers/collect";
import { setEnv } from "./helpers/env";
import { useFakeProvider } from "./helpers/fake-provider";
import { jsonlRoute } from "./helpers/fake-server";

/** Together's batch API over fetch against a local fake of `/v1/batches/{id}`. */

const server = useFakeProvider((url) => ({ TOGETHER_API_KEY: "together-test-key", TOGETHER_BASE_URL: `${url}/v1` }));

const BATCH_ID = "01234567-8901-2345-6789-012345678901";

/** A BatchJob as in Together's API reference. */
function batchJob(status: string, fields: Record<string, unknown> = {}) {
  return {
    id: BATCH_ID,
    user_id: "user_789xyz012",
    input_file_id: "file-input123abc456def",
    file_size_bytes: 1_048_576,
    status,
    job_deadline: "2024-01-16T14:30:00Z",
    created_at: "2024-01-15T14:30:00Z",
    endpoint: "/v1/chat/completions",
    progress: 75,
    model_id: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
    output_file_id: "file-output",
    error_file_id: "file-errors",
    error: "",
    completed_at: "2024-01-15T15:45:30Z",
    ...fields,
  };
}

const TERMINAL = new Set<UnifiedStatus>(["completed", "failed", "expired", "cancelled"]);

test.each(Object.entries(TOGETHER_STATUS_MAP))("maps status %s to %s", async (providerStatus, unified) => {
  server.json(`GET /v1/batches/${BATCH_ID}`, batchJob(providerStatus));

  const snapshot = await getProvider("together").retrieve(BATCH_ID);

  expect(snapshot).toMatchObject({ provider: "together", id: BATCH_ID, status: unified, providerStatus });
  expect(snapshot.terminal).toBe(TERMINAL.has(unified));
  expect(snapshot.endedAt).toBe(TERMINAL.has(unified) ? "2024-01-15T15:45:30.000Z" : null);
});

test("turns the 0–100 progress figure into 0–1 and reports no counts", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, batchJob("IN_PROGRESS", { progress: 42.5 }));
  const snapshot = await getProvider("together").retrieve(BATCH_ID);
  expect(snapshot.progress).toBeCloseTo(0.425);
  expect(snapshot.requestCounts).toBeNull();
  expect(snapshot.expiresAt).toBe("2024-01-16T14:30:00.000Z");
  expect(server.requests[0]?.headers.authorization).toBe("Bearer together-test-key");
});

test("rejects a lower-case status as invalid_response", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, batchJob("completed"));
  await expect(getProvider("together").retrieve(BATCH_ID)).rejects.toMatchObject({ code: "invalid_response" });
});

test("rejects a progress figure outside 0–100 as invalid_response", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, batchJob("IN_PROGRESS", { progress: 250 }));
  await expect(getProvider("together").retrieve(BATCH_ID)).rejects.toMatchObject({ code: "invalid_response" });
});

test("streams output and error files from /files/{id}/content", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, batchJob("COMPLETED"));
  server.route("GET /v1/files/file-output/content", jsonlRoute(OUTPUT_LINES));
  server.route("GET /v1/files/file-errors/content", jsonlRoute(ERROR_LINES));

  const results = await collect(getProvider("together").results(BATCH_ID));

  expect(results.map((result) => result.customId)).toEqual(["request-1", null, "request-3", "request-2", "request-4"]);
  expect(results.filter((result) => result.ok)).toHaveLength(2);
  expect(server.requests.at(-1)?.headers.authorization).toBe("Bearer together-test-key");
});

/**
 * together-ai's own client defaults to https://api.together.ai/v1 (togethercomputer/together-typescript
 * src/client.ts). The old .xyz host redirects, and a cross-origin redirect drops the Authorization header.
 */
test("talks to api.together.ai by default, with the key", async () => {
  setEnv({ TOGETHER_BASE_URL: undefined });
  const fetchSpy = vi.spyOn(globalThis, "fetch").mockResolvedValue(
    new Response(JSON.stringify(batchJob("IN_PROGRESS")), { status: 200, headers: { "content-type": "application/json" } }),
  );
  onTestFinished(() => fetchSpy.mockRestore());

  await getProvider("together").retrieve(BATCH_ID);

  const [url, init] = fetchSpy.mock.calls[0]!;
  expect(String(url)).toBe(`https://api.together.ai/v1/batches/${BATCH_ID}`);
  expect(new Headers(init?.headers).get("authorization")).toBe("Bearer together-test-key");
});
