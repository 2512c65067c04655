import { z } from "zod";
import { baseUrlFromEnv, DAY_MS, HOUR_MS, requireEnv } from "./config";
import { ProviderError } from "./errors";
import { fetchJson } from "./http";
import { malformedLine } from "./lines";
import { assertBatchKind, makeSnapshot, mapStatus } from "./snapshot";
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
  failed: "failed",
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
  // "Not always populated" (xai-proto batch.proto): absent means nothing is known about requests yet.
  state: z
    .object({
      num_requests: count,
      num_pending: count,
      num_success: count,
      num_error: count,
      num_cancelled: count,
    })
    .nullish(),
});
type XaiBatch = z.infer<typeof xaiBatchSchema>;

const BARE_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The span a time from xAI can mean. Over REST xAI sends bare dates ("2025-11-12"), which name a
 * whole UTC day, so a bare date spans that day; a full timestamp is one instant. Null when absent.
 */
export function xaiTimeSpan(value: string | null | undefined): { start: number; end: number } | null {
  if (!value) return null;
  const start = Date.parse(BARE_DATE.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(start)) return null;
  return { start, end: BARE_DATE.test(value) ? start + DAY_MS : start };
}

/** True once the batch's expiry has surely passed: for a bare date, only after that day ends. */
function pastExpiry(batch: XaiBatch, now: number): boolean {
  const expiry = xaiTimeSpan(batch.expire_time);
  return expiry !== null && expiry.end <= now;
}

/**
 * xAI's own counts are the truth; the clock decides only what they leave open. A batch xAI
 * cancelled (with a message why) failed; a user's cancel is cancelling until nothing is pending;
 * nothing pending out of some requests means finished (xAI's SDKs wait for num_pending == 0);
 * an empty batch, or one without state, is still awaiting requests unless its expiry has passed;
 * requests still pending are expired only once the expiry has surely passed.
 */
export function deriveXaiPhase(batch: XaiBatch, now: number = Date.now()): XaiPhase {
  if (batch.cancel_by_xai_message) return "failed";
  const total = batch.state?.num_requests ?? 0;
  const pending = batch.state?.num_pending ?? 0;
  if (batch.cancel_time) return pending > 0 ? "cancelling" : "cancelled";
  if (total === 0) return pastExpiry(batch, now) ? "expired" : "awaiting_requests";
  if (pending === 0) return "finished";
  return pastExpiry(batch, now) ? "expired" : "processing";
}

function xaiConfig() {
  const env = requireEnv(PROVIDER, ["XAI_API_KEY"]);
  return { baseUrl: baseUrlFromEnv("XAI_BASE_URL", XAI_DEFAULT_BASE_URL), headers: { authorization: `Bearer ${env.XAI_API_KEY}` } };
}

function retrieveBatch(id: string): Promise<XaiBatch> {
  const { baseUrl, headers } = xaiConfig();
  return fetchJson(PROVIDER, `${baseUrl}/batches/${encodeURIComponent(id)}`, headers, xaiBatchSchema, "batch");
}

/** An instant from xAI, no later than `now`: a bare date's day may not have ended yet. */
function instantIso(value: string | null | undefined, now: number): string | null {
  const span = xaiTimeSpan(value);
  return span === null ? null : new Date(Math.min(span.end, now)).toISOString();
}

/**
 * End times: a cancel ends at cancel_time, an expiry at expire_time (both bounded by now). xAI
 * reports no finish time, so a finished batch ends when it was seen finished, which the watcher
 * records once, on the poll that settles it.
 */
function xaiEndedAt(batch: XaiBatch, phase: XaiPhase, now: number): string | null {
  switch (phase) {
    case "cancelled":
    case "failed":
      return instantIso(batch.cancel_time, now) ?? new Date(now).toISOString();
    case "expired":
      return instantIso(batch.expire_time, now);
    case "finished":
      return new Date(now).toISOString();
    default:
      return null;
  }
}

export function snapshotFromXaiBatch(batch: XaiBatch, now: number = Date.now()): UnifiedSnapshot {
  const phase = deriveXaiPhase(batch, now);
  const status = mapStatus(XAI_STATUS_MAP, phase, PROVIDER);
  const { state } = batch;
  const createdAt = xaiTimeSpan(batch.create_time);
  const expiresAt = xaiTimeSpan(batch.expire_time);
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: batch.batch_id,
    status,
    providerStatus: phase,
    requestCounts: state
      ? {
          total: state.num_requests,
          completed: state.num_success,
          failed: state.num_error,
          cancelled: state.num_cancelled,
          processing: state.num_pending,
        }
      : null,
    createdAt: createdAt === null ? null : new Date(createdAt.start).toISOString(),
    endedAt: xaiEndedAt(batch, phase, now),
    expiresAt: expiresAt === null ? null : new Date(expiresAt.end).toISOString(),
    raw: { name: batch.name, error: batch.cancel_by_xai_message },
    // xAI's own words for a batch it refused: the only reason a receiver gets for this failure.
    detail: batch.cancel_by_xai_message ? { error: { message: batch.cancel_by_xai_message } } : null,
  });
}

const statusLike = z.object({ code: z.union([z.number(), z.string()]).nullish(), message: z.string().nullish() });

/** xai-sdk-ts types `batch_result.error` as a string; the gRPC shape is a google.rpc.Status. */
const resultError = z.union([z.string(), statusLike]);

const resultItemSchema = z.object({
  batch_request_id: z.string().nullish(),
  batch_result: z.object({ response: z.record(z.string(), z.unknown()).nullish(), error: resultError.nullish() }).nullish(),
  response: z.record(z.string(), z.unknown()).nullish(),
  error_message: z.string().nullish(),
  error: resultError.nullish(),
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
 * One result item: `{"batch_request_id", "batch_result": {"response": {"chat_get_completion": {...}}}}`,
 * `{"batch_request_id", "batch_result": {"error": "..."}}` or `{"batch_request_id", "error_message"}`.
 * A gRPC-style `error: {code, message}` is also read.
 */
export function xaiResultFromItem(value: unknown): BatchResult | undefined {
  const parsed = resultItemSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const item = parsed.data;
  const customId = item.batch_request_id ?? null;
  const error = item.batch_result?.error ?? item.error;
  if (item.error_message) return { ok: false, customId, error: { code: null, message: item.error_message } };
  if (typeof error === "string") return { ok: false, customId, error: { code: null, message: error || "request failed" } };
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
