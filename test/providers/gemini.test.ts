import { expect, test } from "vitest";
import { getProvider, type UnifiedStatus } from "@/lib/providers";
import { GEMINI_STATUS_MAP } from "@/lib/providers/gemini";
import { collect } from "./helpers/collect";
import { useFakeProvider } from "./helpers/fake-provider";
import { jsonlRoute } from "./helpers/fake-server";

/** Gemini Batch Mode over REST: a fake of `GET /v1beta/batches/{id}` (an Operation) and file downloads. */

const server = useFakeProvider((url) => ({ GEMINI_API_KEY: "gemini-test-key", GEMINI_BASE_URL: url }));

const BATCH_PATH = "/v1beta/batches/123456";

/** batches.get as documented: an Operation whose metadata is the GenerateContentBatch (int64 as strings). */
function operation(state: string | undefined, fields: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return {
    name: "batches/123456",
    metadata: {
      "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
      model: "models/gemini-2.5-flash",
      displayName: "my-batch",
      name: "batches/123456",
      createTime: "2025-07-10T12:00:00.123456Z",
      updateTime: "2025-07-10T12:30:00Z",
      batchStats: { requestCount: "100", successfulRequestCount: "60", failedRequestCount: "5", pendingRequestCount: "35" },
      ...(state === undefined ? {} : { state }),
      ...fields,
    },
    ...top,
  };
}

const TERMINAL = new Set<UnifiedStatus>(["completed", "failed", "expired", "cancelled"]);

test.each(Object.entries(GEMINI_STATUS_MAP))("maps state %s to %s", async (state, unified) => {
  server.json(`GET ${BATCH_PATH}`, operation(state));

  const snapshot = await getProvider("gemini").retrieve("batches/123456");

  expect(snapshot).toMatchObject({ provider: "gemini", id: "batches/123456", status: unified, providerStatus: state });
  expect(snapshot.terminal).toBe(TERMINAL.has(unified));
});

test("reads counts from metadata.batchStats, int64 strings included", async () => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_RUNNING"));
  const snapshot = await getProvider("gemini").retrieve("batches/123456");
  expect(snapshot.requestCounts).toEqual({ total: 100, completed: 60, failed: 5, processing: 35 });
  expect(snapshot.progress).toBeCloseTo(0.65);
  expect(snapshot.createdAt).toBe("2025-07-10T12:00:00.123Z");
});

test("treats count fields omitted by proto3 JSON as zero", async () => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_SUCCEEDED", { batchStats: { requestCount: "4", successfulRequestCount: "4" }, endTime: "2025-07-10T13:00:00Z" }));
  const snapshot = await getProvider("gemini").retrieve("batches/123456");
  expect(snapshot.requestCounts).toEqual({ total: 4, completed: 4, failed: 0, processing: 0 });
  expect(snapshot.progress).toBe(1);
  expect(snapshot.endedAt).toBe("2025-07-10T13:00:00.000Z");
});

test("reports null counts before batchStats exist", async () => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_PENDING", { batchStats: undefined }));
  const snapshot = await getProvider("gemini").retrieve("batches/123456");
  expect(snapshot.requestCounts).toBeNull();
  expect(snapshot.progress).toBeNull();
});

test("reads an omitted state (proto3 default) as unspecified, still validating", async () => {
  server.json(`GET ${BATCH_PATH}`, operation(undefined));
  const snapshot = await getProvider("gemini").retrieve("batches/123456");
  expect(snapshot).toMatchObject({ status: "validating", providerStatus: "BATCH_STATE_UNSPECIFIED", terminal: false });
});

test.each([
  ["batches/123456", "as given"],
  ["123456", "with the batches/ prefix added"],
])("requests id %s %s, authenticated with x-goog-api-key", async (id) => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_RUNNING"));
  await getProvider("gemini").retrieve(id);
  expect(server.requests[0]?.path).toBe(BATCH_PATH);
  expect(server.requests[0]?.headers["x-goog-api-key"]).toBe("gemini-test-key");
});

test("reads the wait of a 429 from the body's RetryInfo when no Retry-After header is sent", async () => {
  server.json(
    `GET ${BATCH_PATH}`,
    {
      error: {
        code: 429,
        message: "Resource has been exhausted (e.g. check quota).",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31s" }],
      },
    },
    429,
  );
  await expect(getProvider("gemini").retrieve("batches/123456")).rejects.toMatchObject({ code: "rate_limited", retryAfterMs: 31_000 });
});

test("rejects a payload without metadata as invalid_response", async () => {
  server.json(`GET ${BATCH_PATH}`, { name: "batches/123456", done: false });
  await expect(getProvider("gemini").retrieve("batches/123456")).rejects.toMatchObject({ code: "invalid_response" });
});

test("rejects an unknown state as invalid_response", async () => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_LEVITATING"));
  await expect(getProvider("gemini").retrieve("batches/123456")).rejects.toMatchObject({ code: "invalid_response" });
});

test("streams the responses file named by response.responsesFile", async () => {
  server.json(
    `GET ${BATCH_PATH}`,
    operation("BATCH_STATE_SUCCEEDED", {}, {
      done: true,
      response: { "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput", responsesFile: "files/batch-abc" },
    }),
  );
  server.route(
    "GET /download/v1beta/files/batch-abc:download",
    jsonlRoute([
      JSON.stringify({ key: "request-1", response: { candidates: [{ content: { parts: [{ text: "Hi" }], role: "model" } }] } }),
      JSON.stringify({ key: "request-2", error: { code: 400, message: "Invalid argument", status: "INVALID_ARGUMENT" } }),
      "oops",
    ]),
  );

  const results = await collect(getProvider("gemini").results("batches/123456"));

  expect(results).toEqual([
    { ok: true, customId: "request-1", body: { candidates: [{ content: { parts: [{ text: "Hi" }], role: "model" } }] } },
    { ok: false, customId: "request-2", error: { code: "INVALID_ARGUMENT", message: "Invalid argument" } },
    { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 3 } },
  ]);
  const download = server.requests.at(-1)!;
  expect(download.query.get("alt")).toBe("media");
  expect(download.headers["x-goog-api-key"]).toBe("gemini-test-key");
});

test("yields inlined responses, keyed by metadata.key", async () => {
  server.json(
    `GET ${BATCH_PATH}`,
    operation("BATCH_STATE_SUCCEEDED", {}, {
      done: true,
      response: {
        inlinedResponses: {
          inlinedResponses: [
            { response: { candidates: [] }, metadata: { key: "a" } },
            { error: { code: 13, message: "Internal error" }, metadata: { key: "b" } },
            42,
          ],
        },
      },
    }),
  );

  expect(await collect(getProvider("gemini").results("batches/123456"))).toEqual([
    { ok: true, customId: "a", body: { candidates: [] } },
    { ok: false, customId: "b", error: { code: "13", message: "Internal error" } },
    { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 3 } },
  ]);
});

/**
 * An embedding batch (asyncBatchEmbedContent): js-genai reads its inline results from
 * `output.inlinedEmbedContentResponses.inlinedResponses`, each `{ response: { embedding }, metadata }`.
 */
const EMBEDDINGS = {
  inlinedEmbedContentResponses: {
    inlinedResponses: [
      { response: { embedding: { values: [0.013, -0.008, 0.021] } }, metadata: { key: "doc-1" } },
      { error: { code: 3, message: "Request contains an invalid argument.", status: "INVALID_ARGUMENT" }, metadata: { key: "doc-2" } },
    ],
  },
};

test.each([
  ["the operation's response", {}, { done: true, response: { "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.EmbedContentBatchOutput", ...EMBEDDINGS } }],
  ["the batch's metadata.output", { output: EMBEDDINGS }, { done: true }],
])("yields an embedding batch's inlined responses from %s", async (_case, fields, top) => {
  server.json(`GET ${BATCH_PATH}`, operation("BATCH_STATE_SUCCEEDED", { "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.EmbedContentBatch", ...fields }, top));

  expect(await collect(getProvider("gemini").results("batches/123456"))).toEqual([
    { ok: true, customId: "doc-1", body: { embedding: { values: [0.013, -0.008, 0.021] } } },
    { ok: false, customId: "doc-2", error: { code: "INVALID_ARGUMENT", message: "Request contains an invalid argument." } },
  ]);
});

/** A long-running Operation (google.longrunning): `done` with `error` failed, `done` without succeeded. */
test.each<[string, UnifiedStatus, Record<string, unknown>, boolean]>([
  ["done with an error", "failed", { done: true, error: { code: 13, message: "Internal error encountered." } }, true],
  ["done without an error", "completed", { done: true, response: { responsesFile: "files/batch-abc" } }, true],
  ["not done", "validating", { done: false }, false],
])("reads an operation without state that is %s as %s", async (_case, status, top, terminal) => {
  server.json(`GET ${BATCH_PATH}`, operation(undefined, {}, top));

  const snapshot = await getProvider("gemini").retrieve("batches/123456");

  expect(snapshot).toMatchObject({ status, terminal });
  if (status === "failed") expect(snapshot.raw).toMatchObject({ error: { code: 13, message: "Internal error encountered." } });
});
