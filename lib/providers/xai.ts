import { z } from "zod";
import { baseUrlFromEnv, HOUR_MS, requireEnv } from "./config";
import { ProviderError } from "./errors";
import { fetchJson } from "./http";
import { malformedLine } from "./lines";
import { assertBatchKind, makeSnapshot, mapStatus, rfc3339ToIso } from "./snapshot";
import type { BatchResult, ProviderAdapter, RetrieveOptions, UnifiedSnapshot } from "./types";

/**
 * xAI's batch API over plain fetch (xAI's own SDK speaks gRPC). A batch has no status word, only
 * request counts and timestamps, so its phase is derived ({@link deriveXaiPhase}) and that phase
 * is what `providerStatus` reports. XAI_BASE_URL includes `/v1`, as for OpenAI-compatible clients.
 */

const PROVIDER = "xai";
export const XAI_DEFAULT_BASE_URL = "https://api.x.ai/v1";
const RESULTS_PAGE_SIZE = 100;

export const XAI_STATUS_MAP = {
  awaiting_requests: "validating",
  processing: "in_progress",
  finished: "completed",
  expired: "expired",
  cancelling: "cancelling",
  cancelled: "cancelled",
} as const;
export type XaiPhase = keyof typeof XAI_STATUS_MAP;

/** Counts may be omitted when zero (proto3 JSON) and int64 may arrive as strings. */
const count = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)])
  .default(0);

export const xaiBatchSchema = z.object({
  batch_id: z.string(),
  name: z.string().nullish(),
  create_time: z.string().nullish(),
  expire_time: z.string().nullish(),
  cancel_time: z.string().nullish(),
  cancel_by_xai_message: z.string().nullish(),
  state: z.object({
    num_requests: count,
    num_pending: count,
    num_success: count,
    num_error: count,
    num_cancelled: count,
  }),
});
type XaiBatch = z.infer<typeof xaiBatchSchema>;

/**
 * A cancel (by the user, or by xAI with a message) wins; an empty batch still awaits requests;
 * nothing pending means finished (xAI's own SDK treats num_pending == 0 as complete); requests
 * still pending past expire_time mean the batch expired.
 */
export function deriveXaiPhase(batch: XaiBatch, now: number = Date.now()): XaiPhase {
  const { num_requests: total, num_pending: pending } = batch.state;
  if (batch.cancel_time || batch.cancel_by_xai_message) return pending > 0 ? "cancelling" : "cancelled";
  if (total === 0) return "awaiting_requests";
  if (pending === 0) return "finished";
  const expiresAt = batch.expire_time ? Date.parse(batch.expire_time) : Number.NaN;
  if (!Number.isNaN(expiresAt) && expiresAt <= now) return "expired";
  return "processing";
}

function xaiConfig() {
  const env = requireEnv(PROVIDER, ["XAI_API_KEY"]);
  return { baseUrl: baseUrlFromEnv("XAI_BASE_URL", XAI_DEFAULT_BASE_URL), headers: { authorization: `Bearer ${env.XAI_API_KEY}` } };
}

function retrieveBatch(id: string): Promise<XaiBatch> {
  const { baseUrl, headers } = xaiConfig();
  return fetchJson(PROVIDER, `${baseUrl}/batches/${encodeURIComponent(id)}`, headers, xaiBatchSchema, "batch");
}

export function snapshotFromXaiBatch(batch: XaiBatch, now: number = Date.now()): UnifiedSnapshot {
  const phase = deriveXaiPhase(batch, now);
  const status = mapStatus(XAI_STATUS_MAP, phase, PROVIDER);
  const { state } = batch;
  const endedAt =
    status === "cancelled" ? batch.cancel_time
    : status === "expired" ? batch.expire_time
    : null;
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: batch.batch_id,
    status,
    providerStatus: phase,
    requestCounts: {
      total: state.num_requests,
      completed: state.num_success,
      failed: state.num_error,
      cancelled: state.num_cancelled,
      processing: state.num_pending,
    },
    createdAt: rfc3339ToIso(batch.create_time),
    // xAI reports no finish time for a batch that simply ran out of pending requests.
    endedAt: rfc3339ToIso(endedAt),
    expiresAt: rfc3339ToIso(batch.expire_time),
    raw: { name: batch.name, cancelledByXai: batch.cancel_by_xai_message },
    detail: null,
  });
}

const statusLike = z.object({ code: z.union([z.number(), z.string()]).nullish(), message: z.string().nullish() });

const resultItemSchema = z.object({
  batch_request_id: z.string().nullish(),
  batch_result: z.object({ response: z.record(z.string(), z.unknown()).nullish(), error: statusLike.nullish() }).nullish(),
  response: z.record(z.string(), z.unknown()).nullish(),
  error_message: z.string().nullish(),
  error: statusLike.nullish(),
});

const resultsPageSchema = z.object({
  results: z.array(z.unknown()).nullish(),
  pagination_token: z.string().nullish(),
});

/** The response is keyed by operation (`chat_get_completion`, …); the one value is the body. */
function responseBody(response: Record<string, unknown>): unknown {
  const values = Object.values(response);
  return values.length === 1 ? values[0] : response;
}

/**
 * One result item: `{"batch_request_id", "batch_result": {"response": {"chat_get_completion": {...}}}}`
 * or `{"batch_request_id", "error_message"}`. A gRPC-style `error: {code, message}` is also read.
 */
export function xaiResultFromItem(value: unknown): BatchResult | undefined {
  const parsed = resultItemSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const item = parsed.data;
  const customId = item.batch_request_id ?? null;
  const error = item.batch_result?.error ?? item.error;
  if (item.error_message) return { ok: false, customId, error: { code: null, message: item.error_message } };
  if (error && (error.message || (error.code !== undefined && error.code !== null && error.code !== 0))) {
    const code = error.code === null || error.code === undefined ? null : String(error.code);
    return { ok: false, customId, error: { code, message: error.message ?? "request failed" } };
  }
  const response = item.batch_result?.response ?? item.response;
  if (!response) return undefined;
  return { ok: true, customId, body: responseBody(response) };
}

/** Walks the paginated results endpoint one page at a time, so only one page is ever held. */
async function* xaiResults(id: string, options: RetrieveOptions | undefined): AsyncGenerator<BatchResult> {
  assertBatchKind(PROVIDER, options);
  const { baseUrl, headers } = xaiConfig();
  const seenTokens = new Set<string>();
  let token: string | undefined;
  let position = 0;
  do {
    const query = new URLSearchParams({ limit: String(RESULTS_PAGE_SIZE) });
    if (token) query.set("pagination_token", token);
    const page = await fetchJson(
      PROVIDER,
      `${baseUrl}/batches/${encodeURIComponent(id)}/results?${query}`,
      headers,
      resultsPageSchema,
      "results page",
    );
    for (const item of page.results ?? []) {
      position += 1;
      yield xaiResultFromItem(item) ?? malformedLine(position, `result ${position} is not a result object`);
    }
    token = page.pagination_token || undefined;
    if (token && seenTokens.has(token)) {
      throw new ProviderError("invalid_response", `${PROVIDER} repeated a pagination token`, { provider: PROVIDER });
    }
    if (token) seenTokens.add(token);
  } while (token);
}

export const xaiProvider: ProviderAdapter = {
  name: PROVIDER,
  supportedKinds: ["batch"],
  nativeWebhooks: false,
  // Most batches finish within 24 h; no hard window is documented, so allow three days.
  completionWindowMs: 72 * HOUR_MS,
  assertConfigured: () => void requireEnv(PROVIDER, ["XAI_API_KEY"]),
  async retrieve(id, options) {
    assertBatchKind(PROVIDER, options);
    return snapshotFromXaiBatch(await retrieveBatch(id));
  },
  results: xaiResults,
};
