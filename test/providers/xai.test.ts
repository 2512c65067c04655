import { expect, test } from "vitest";
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
  ["cancelled by xAI", "cancelled", { num_requests: 10, num_success: 6, num_cancelled: 4 }, { cancel_by_xai_message: "capacity" }],
];

test("every derived phase has a unified status", () => {
  expect(new Set(CASES.map(([, phase]) => phase))).toEqual(new Set(Object.keys(XAI_STATUS_MAP)));
});

test.each(CASES)("derives %s as phase %s", async (_case, phase, state, fields) => {
  server.json(`GET /v1/batches/${BATCH_ID}`, xaiBatch(state, fields));

  const snapshot = await getProvider("xai").retrieve(BATCH_ID);

  const unified: UnifiedStatus = XAI_STATUS_MAP[phase];
  expect(snapshot).toMatchObject({ provider: "xai", id: BATCH_ID, providerStatus: phase, status: unified });
  expect(snapshot.terminal).toBe(["completed", "expired", "cancelled"].includes(unified));
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

test("rejects a batch without state as invalid_response", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}`, { batch_id: BATCH_ID, status: "completed" });
  await expect(getProvider("xai").retrieve(BATCH_ID)).rejects.toMatchObject({ code: "invalid_response" });
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

test("stops with invalid_response when a results page repeats its token", async () => {
  server.json(`GET /v1/batches/${BATCH_ID}/results`, { results: [], pagination_token: "same" });
  await expect(collect(getProvider("xai").results(BATCH_ID))).rejects.toMatchObject({ code: "invalid_response" });
});
