import { expect, test } from "vitest";
import { getProvider, type UnifiedStatus } from "@/lib/providers";
import { ANTHROPIC_STATUS_MAP } from "@/lib/providers/anthropic";
import { collect } from "./helpers/collect";
import { useFakeProvider } from "./helpers/fake-provider";
import { jsonlRoute } from "./helpers/fake-server";

/** Anthropic Message Batches through @anthropic-ai/sdk against a local fake of the API. */

const server = useFakeProvider((url) => ({ ANTHROPIC_API_KEY: "sk-ant-test", ANTHROPIC_BASE_URL: url }));

const BATCH_ID = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";
const BATCH_PATH = `/v1/messages/batches/${BATCH_ID}`;

interface Counts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** A MessageBatch as in Anthropic's API reference. */
function messageBatch(processingStatus: string, counts: Partial<Counts> = {}, fields: Record<string, unknown> = {}) {
  const ended = processingStatus === "ended";
  return {
    id: BATCH_ID,
    type: "message_batch",
    processing_status: processingStatus,
    request_counts: { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0, ...counts },
    ended_at: ended ? "2024-08-20T18:37:24.100435Z" : null,
    created_at: "2024-08-20T18:37:24.100435Z",
    expires_at: "2024-08-21T18:37:24.100435Z",
    archived_at: null,
    cancel_initiated_at: null,
    results_url: ended ? `${server.url}${BATCH_PATH}/results` : null,
    ...fields,
  };
}

const CANCELLED_AT = { cancel_initiated_at: "2024-08-20T19:00:00Z" };

test("its status table covers every processing_status", () => {
  expect(Object.keys(ANTHROPIC_STATUS_MAP).sort()).toEqual(["canceling", "ended", "in_progress"]);
});

test.each<[string, string, UnifiedStatus, Partial<Counts>, Record<string, unknown>]>([
  ["in_progress", "no cancel", "in_progress", { processing: 80, succeeded: 18, errored: 2 }, {}],
  ["canceling", "cancel requested", "cancelling", { processing: 50, succeeded: 50 }, CANCELLED_AT],
  ["ended", "every request ran", "completed", { succeeded: 98, errored: 2 }, {}],
  ["ended", "cancel_initiated_at set", "cancelled", { succeeded: 50, canceled: 50 }, CANCELLED_AT],
  ["ended", "some requests expired", "expired", { succeeded: 90, expired: 10 }, {}],
  // The outcome follows request_counts, not cancel_initiated_at: "cancellation may not result in any
  // canceled requests if they were non-interruptible" (Anthropic API reference, Cancel a Message Batch).
  ["ended", "a cancel that cancelled nothing", "completed", { succeeded: 100 }, CANCELLED_AT],
  ["ended", "requests canceled without cancel_initiated_at", "cancelled", { succeeded: 50, canceled: 50 }, {}],
  ["ended", "cancelled and some expired", "expired", { succeeded: 40, canceled: 50, expired: 10 }, CANCELLED_AT],
])("maps %s (%s) to status %s", async (processingStatus, _case, unified, counts, fields) => {
  server.json(`GET ${BATCH_PATH}`, messageBatch(processingStatus, counts, fields));

  const snapshot = await getProvider("anthropic").retrieve(BATCH_ID);

  expect(snapshot.status).toBe(unified);
  expect(snapshot.providerStatus).toBe(processingStatus);
  expect(snapshot.terminal).toBe(processingStatus === "ended");
});

test("maps processing/succeeded/errored/canceled/expired onto unified counts", async () => {
  server.json(`GET ${BATCH_PATH}`, messageBatch("in_progress", { processing: 10, succeeded: 60, errored: 5, canceled: 0, expired: 0 }));
  const snapshot = await getProvider("anthropic").retrieve(BATCH_ID);
  expect(snapshot.requestCounts).toEqual({ total: 75, completed: 60, failed: 5, cancelled: 0, expired: 0, processing: 10 });
  expect(snapshot.progress).toBeCloseTo(65 / 75);
  expect(snapshot.createdAt).toBe("2024-08-20T18:37:24.100Z");
  expect(snapshot.expiresAt).toBe("2024-08-21T18:37:24.100Z");
  expect(snapshot.endedAt).toBeNull();
});

/** The SDK sends the key as x-api-key or, in recent versions, as a bearer token. */
function sentKey(headers: Record<string, string | string[] | undefined> | undefined): string | undefined {
  const bearer = typeof headers?.authorization === "string" ? headers.authorization.replace(/^Bearer /, "") : undefined;
  return (headers?.["x-api-key"] as string | undefined) ?? bearer;
}

test("authenticates with ANTHROPIC_API_KEY and the API version header", async () => {
  server.json(`GET ${BATCH_PATH}`, messageBatch("in_progress"));
  await getProvider("anthropic").retrieve(BATCH_ID);
  expect(sentKey(server.requests[0]?.headers)).toBe("sk-ant-test");
  expect(server.requests[0]?.headers["anthropic-version"]).toBeTruthy();
});

test("rejects an unknown processing_status as invalid_response", async () => {
  server.json(`GET ${BATCH_PATH}`, messageBatch("paused"));
  await expect(getProvider("anthropic").retrieve(BATCH_ID)).rejects.toMatchObject({ code: "invalid_response" });
});

test("streams the results JSONL, one result per line, malformed lines included", async () => {
  server.json(`GET ${BATCH_PATH}`, messageBatch("ended", { succeeded: 1, errored: 1, canceled: 1, expired: 1 }));
  server.route(
    `GET ${BATCH_PATH}/results`,
    jsonlRoute([
      JSON.stringify({
        custom_id: "my-second-request",
        result: {
          type: "succeeded",
          message: { id: "msg_014VwiXbi91y3JMjcpyGBHX5", type: "message", role: "assistant", model: "claude-3-5-sonnet-20240620", content: [{ type: "text", text: "Hello again!" }], stop_reason: "end_turn", usage: { input_tokens: 11, output_tokens: 36 } },
        },
      }),
      JSON.stringify({
        custom_id: "my-first-request",
        result: { type: "errored", error: { type: "error", error: { type: "invalid_request_error", message: "Validation error" } } },
      }),
      JSON.stringify({ custom_id: "my-third-request", result: { type: "canceled" } }),
      JSON.stringify({ custom_id: "my-fourth-request", result: { type: "expired" } }),
      JSON.stringify({ custom_id: "my-fifth-request", result: { type: "teleported" } }),
    ]),
  );

  const results = await collect(getProvider("anthropic").results(BATCH_ID));

  expect(results).toEqual([
    { ok: true, customId: "my-second-request", body: expect.objectContaining({ id: "msg_014VwiXbi91y3JMjcpyGBHX5" }) },
    { ok: false, customId: "my-first-request", error: { code: "invalid_request_error", message: "Validation error" } },
    { ok: false, customId: "my-third-request", error: { code: "canceled", message: expect.any(String) } },
    { ok: false, customId: "my-fourth-request", error: { code: "expired", message: expect.any(String) } },
    { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 5 } },
  ]);
  expect(server.requests.at(-1)?.path).toBe(`${BATCH_PATH}/results`);
  expect(sentKey(server.requests.at(-1)?.headers)).toBe("sk-ant-test");
});

test("yields nothing before the batch has a results_url", async () => {
  server.json(`GET ${BATCH_PATH}`, messageBatch("in_progress", { processing: 3 }));
  expect(await collect(getProvider("anthropic").results(BATCH_ID))).toEqual([]);
});
