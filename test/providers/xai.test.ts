import { afterEach, describe, expect, test, vi } from "vitest";
import { getProvider, type UnifiedStatus } from "@/lib/providers";
import { deriveXaiPhase, XAI_STATUS_MAP, type XaiPhase } from "@/lib/providers/xai";
import { collect } from "./helpers/collect";
import { useFakeProvider } from "./helpers/fake-provider";
import { sendJson } from "./helpers/fake-server";

/** xAI batches over fetch: the status is derived from counts and timestamps; results are paginated. */

const server = useFakeProvider((url) => ({ XAI_API_KEY: "xai-test-key", XAI_BASE_URL: `${url}/v1` }));

const BATCH_ID = "batch_f4b1c9a2";
const PAST = "2020-01-01T00:00:00Z";
const FUTURE = "2999-01-01T00:00:00Z";

interface State {
  num_requests?: number;
  num_pending?: number;
  num_success?: number;
  num_error?: number;
  num_cancelled?: number;
}

/** A batch as xAI's REST API returns it: no status word, only `state` counts and timestamps. */
function xaiBatch(state: State, fields: Record<string, unknown> = {}) {
  return {
    batch_id: BATCH_ID,
    name: "nightly-eval",
    create_time: "2025-10-01T08:00:00Z",
    expire_time: FUTURE,
    create_api_key_id: "key_123",
    cancel_time: null,
    cancel_by_xai_message: null,
    state,
    ...fields,
  };
}

const CASES: [string, XaiPhase, State, Record<string, unknown>][] = [
  ["no requests added yet", "awaiting_requests", {}, {}],
  ["requests pending", "processing", { num_requests: 10, num_pending: 4, num_success: 5, num_error: 1 }, {}],
  ["nothing pending", "finished", { num_requests: 10, num_success: 9, num_error: 1 }, {}],
  ["pending past expire_time", "expired", { num_requests: 10, num_pending: 4, num_success: 6 }, { expire_time: PAST }],
  ["cancel_time set, requests pending", "cancelling", { num_requests: 10, num_pending: 4, num_success: 6 }, { cancel_time: "2025-10-01T09:00:00Z" }],
  ["cancel_time set, nothing pending", "cancelled", { num_requests: 10, num_success: 6, num_cancelled: 4 }, { cancel_time: "2025-10-01T09:00:00Z" }],
  ["cancelled by xAI", "failed", { num_requests: 10, num_success: 6, num_cancelled: 4 }, { cancel_by_xai_message: "capacity" }],
];

test("every derived phase has a unified status", () => {
  expect(new Set(CASES.map(([, phase]) => phase))).toEqual(new Set(Object.keys(XAI_STATUS_MAP)));
});

test.each(CASES)("derives %s as phase %s", async (_case, phase, state, fields) => {
  server.json(`GET /v1/batches/${BATCH_ID}`, xaiBatch(state, fields));

  const snapshot = await getProvider("xai").retrieve(BATCH_ID);

  const unified: UnifiedStatus = XAI_STATUS_MAP[phase];
  expect(snapshot).toMatchObject({ provider: "xai", id: BATCH_ID, providerStatus: phase, status: unified });
  expect(snapshot.terminal).toBe(["completed", "failed", "expired", "cancelled"].includes(unified));
});

test("derives from counts at the given time, so a batch expires exactly at expire_time", () => {
  const batch = { batch_id: BATCH_ID, state: { num_requests: 2, num_pending: 1, num_success: 1, num_error: 0, num_cancelled: 0 }, expire_time: "2025-10-02T08:00:00Z" };
  expect(deriveXaiPhase(batch, Date.parse("2025-10-02T07:59:59Z"))).toBe("processing");
  expect(deriveXaiPhase(batch, Date.parse("2025-10-02T08:00:00Z"))).toBe("expired");
});

test("maps num_* counts, including counts sent as strings", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, xaiBatch({ num_requests: 10, num_pending: 4, num_success: "5" as unknown as number, num_error: 1 }));
  const snapshot = await getProvider("xai").retrieve(BATCH_ID);
  expect(snapshot.requestCounts).toEqual({ total: 10, completed: 5, failed: 1, cancelled: 0, processing: 4 });
  expect(snapshot.progress).toBeCloseTo(0.6);
  expect(snapshot.createdAt).toBe("2025-10-01T08:00:00.000Z");
  expect(server.requests[0]?.headers.authorization).toBe("Bearer xai-test-key");
});

/**
 * Over REST xAI sends its times as bare dates (xai-org/xai-sdk-ts tests: `"create_time": "2025-11-11",
 * "expire_time": "2025-11-12"`); `state` is "not always populated" (xai-org/xai-proto batch.proto).
 */
describe("as xAI's REST API answers", () => {
  afterEach(() => void vi.useRealTimers());
  const at = (iso: string) => vi.useFakeTimers({ toFake: ["Date"], now: Date.parse(iso) });

  /** The batch as `GET /v1/batches/{id}` answers it, dates without a time of day. */
  const restBatch = (state: State | undefined, fields: Record<string, unknown> = {}) => ({
    ...xaiBatch(state ?? {}, { create_time: "2025-11-11", expire_time: "2025-11-12", ...fields }),
    ...(state === undefined ? { state: undefined } : {}),
  });

  test.each([
    ["on the expiry date itself", "2025-11-12T18:00:00Z", "processing", "in_progress"],
    ["once the expiry date has passed", "2025-11-13T00:00:00Z", "expired", "expired"],
  ])("reads a bare expire_time as the end of that UTC day: pending requests %s are %s", async (_case, now, phase, status) => {
    at(now);
    server.json(`GET /v1/batches/${BATCH_ID}`, restBatch({ num_requests: 10, num_pending: 4, num_success: 6 }));

    const snapshot = await getProvider("xai").retrieve(BATCH_ID);

    expect(snapshot).toMatchObject({ providerStatus: phase, status, expiresAt: "2025-11-13T00:00:00.000Z", createdAt: "2025-11-11T00:00:00.000Z" });
  });

  test("trusts its own counts: a batch with nothing pending finished, even past its expiry date", async () => {
    at("2025-11-20T09:30:00Z");
    server.json(`GET /v1/batches/${BATCH_ID}`, restBatch({ num_requests: 10, num_success: 9, num_error: 1 }));
    expect(await getProvider("xai").retrieve(BATCH_ID)).toMatchObject({ status: "completed", terminal: true });
  });

  test("reports a batch xAI refused as failed, with xAI's message as the reason", async () => {
    at("2026-09-27T12:00:00Z");
    const message = "JSONL file validation failed: Model grok-4.6 is not supported for batch processing.";
    server.json(
      `GET /v1/batches/${BATCH_ID}`,
      restBatch({ num_requests: 0, num_pending: 0, num_success: 0, num_error: 0 }, { create_time: "2026-09-27", expire_time: "2026-09-28", cancel_time: "2026-09-27", cancel_by_xai_message: message }),
    );

    const snapshot = await getProvider("xai").retrieve(BATCH_ID);

    expect(snapshot).toMatchObject({
      status: "failed",
      providerStatus: "failed",
      terminal: true,
      raw: { error: message },
      detail: { error: { message } },
    });
    // A bare cancel date says only which day; the end is no later than now.
    expect(snapshot.endedAt).toBe("2026-09-27T12:00:00.000Z");
  });

  test("reads a batch without state as still starting, with no counts", async () => {
    at("2025-11-11T10:00:00Z");
    server.json(`GET /v1/batches/${BATCH_ID}`, restBatch(undefined));

    const snapshot = await getProvider("xai").retrieve(BATCH_ID);

    expect(snapshot).toMatchObject({ status: "validating", providerStatus: "awaiting_requests", terminal: false, requestCounts: null, progress: null });
  });

  test.each([
    ["an empty batch", { num_requests: 0 }],
    ["a batch without state", undefined],
  ])("declares %s past its expiry date expired", async (_case, state) => {
    at("2025-11-13T00:00:01Z");
    server.json(`GET /v1/batches/${BATCH_ID}`, restBatch(state));

    const snapshot = await getProvider("xai").retrieve(BATCH_ID);

    expect(snapshot).toMatchObject({ status: "expired", terminal: true, endedAt: "2025-11-13T00:00:00.000Z" });
  });

  test("gives a finished batch an end time: when it was first seen finished, as xAI reports none", async () => {
    at("2025-11-11T16:45:00Z");
    server.json(`GET /v1/batches/${BATCH_ID}`, restBatch({ num_requests: 2, num_success: 2 }));
    expect((await getProvider("xai").retrieve(BATCH_ID)).endedAt).toBe("2025-11-11T16:45:00.000Z");
  });
});

test("walks every results page with pagination_token", async () => {
  server.route(`GET /v1/batches/${BATCH_ID}/results`, (_request, response, url) => {
    const token = url.searchParams.get("pagination_token");
    if (!token) {
      sendJson(response, 200, {
        results: [
          { batch_request_id: "req-1", batch_result: { response: { chat_get_completion: { id: "c1", choices: [] } } } },
          { batch_request_id: "req-2", error_message: "model overloaded" },
        ],
        pagination_token: "page-2",
      });
    } else {
      sendJson(response, 200, { results: [{ batch_request_id: "req-3", batch_result: { response: { chat_get_completion: { id: "c3" } } } }, "garbage"] });
    }
  });

  const results = await collect(getProvider("xai").results(BATCH_ID));

  expect(results).toEqual([
    { ok: true, customId: "req-1", body: { id: "c1", choices: [] } },
    { ok: false, customId: "req-2", error: { code: null, message: "model overloaded" } },
    { ok: true, customId: "req-3", body: { id: "c3" } },
    { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 4 } },
  ]);
  expect(server.requests.map((request) => request.query.get("pagination_token"))).toEqual([null, "page-2"]);
  expect(server.requests[0]?.query.get("limit")).toBe("100");
});

/** xai-org/xai-sdk-ts `BatchResult`: `batch_result` is `{ error: string }` or `{ response: … }`. */
test("keeps a failed request whose batch_result error is a plain string, with its batch_request_id", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}/results`, {
    results: [
      { batch_request_id: "test_request_0", batch_result: { response: { chat_get_completion: { id: "c0", object: "chat.completion" } } } },
      { batch_request_id: "test_request_1", batch_result: { error: "Model is not supported for batch processing" } },
    ],
    pagination_token: null,
  });

  expect(await collect(getProvider("xai").results(BATCH_ID))).toEqual([
    { ok: true, customId: "test_request_0", body: { id: "c0", object: "chat.completion" } },
    { ok: false, customId: "test_request_1", error: { code: null, message: "Model is not supported for batch processing" } },
  ]);
});

test("stops with invalid_response when a results page repeats its token", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}/results`, { results: [], pagination_token: "same" });
  await expect(collect(getProvider("xai").results(BATCH_ID))).rejects.toMatchObject({ code: "invalid_response" });
});
