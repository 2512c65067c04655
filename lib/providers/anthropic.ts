import type Anthropic from "@anthropic-ai/sdk";
import { z } from "zod";
import { baseUrlFromEnv, DAY_MS, requireEnv } from "./config";
import { bodyOf, callProvider, parseProviderPayload, sdkTimeoutMs } from "./http";
import { streamResultFile } from "./lines";
import { assertBatchKind, makeSnapshot, mapStatus, rfc3339ToIso } from "./snapshot";
import type { BatchResult, ProviderAdapter, RetrieveOptions, UnifiedSnapshot, UnifiedStatus } from "./types";

/**
 * Anthropic Message Batches through @anthropic-ai/sdk. The API reports only
 * in_progress | canceling | ended, so how an ended batch ended is derived from its fields.
 */

const PROVIDER = "anthropic";
/** The SDK's default; ANTHROPIC_BASE_URL has the same meaning (no `/v1`). */
export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";

/** `ended` is refined by {@link deriveEndedStatus}: cancelled, expired or completed. */
export const ANTHROPIC_STATUS_MAP = {
  in_progress: "in_progress",
  canceling: "cancelling",
  ended: "completed",
} as const;

const count = z.number().int().nonnegative();

export const anthropicBatchSchema = z.object({
  id: z.string(),
  type: z.literal("message_batch").optional(),
  processing_status: z.string(),
  request_counts: z.object({ processing: count, succeeded: count, errored: count, canceled: count, expired: count }),
  created_at: z.string(),
  ended_at: z.string().nullish(),
  expires_at: z.string().nullish(),
  cancel_initiated_at: z.string().nullish(),
  archived_at: z.string().nullish(),
  results_url: z.string().nullish(),
});
type AnthropicBatch = z.infer<typeof anthropicBatchSchema>;

/**
 * How an ended batch ended, from its final request_counts (canceled is zero until processing ends):
 * any expired request means it ran out of time; any canceled one that it was cancelled; otherwise
 * every request ran. cancel_initiated_at alone proves nothing: a cancel may cancel no request
 * (non-interruptible ones finish), and such a batch completed.
 */
export function deriveEndedStatus(batch: AnthropicBatch): UnifiedStatus {
  if (batch.request_counts.expired > 0) return "expired";
  if (batch.request_counts.canceled > 0) return "cancelled";
  return "completed";
}

async function createAnthropicClient(): Promise<Anthropic> {
  const env = requireEnv(PROVIDER, ["ANTHROPIC_API_KEY"]);
  const { Anthropic } = await import("@anthropic-ai/sdk");
  return new Anthropic({
    apiKey: env.ANTHROPIC_API_KEY,
    baseURL: baseUrlFromEnv("ANTHROPIC_BASE_URL", ANTHROPIC_DEFAULT_BASE_URL),
    maxRetries: 0,
    timeout: sdkTimeoutMs(),
  });
}

async function retrieveBatch(client: Anthropic, id: string): Promise<AnthropicBatch> {
  const payload = await callProvider(PROVIDER, (signal) => client.messages.batches.retrieve(id, {}, { signal }));
  return parseProviderPayload(anthropicBatchSchema, payload, PROVIDER, "message batch");
}

export function snapshotFromAnthropicBatch(batch: AnthropicBatch): UnifiedSnapshot {
  const mapped = mapStatus(ANTHROPIC_STATUS_MAP, batch.processing_status, PROVIDER);
  const status = batch.processing_status === "ended" ? deriveEndedStatus(batch) : mapped;
  const counts = batch.request_counts;
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: batch.id,
    status,
    providerStatus: batch.processing_status,
    requestCounts: {
      total: counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired,
      completed: counts.succeeded,
      failed: counts.errored,
      cancelled: counts.canceled,
      expired: counts.expired,
      processing: counts.processing,
    },
    createdAt: rfc3339ToIso(batch.created_at),
    endedAt: rfc3339ToIso(batch.ended_at),
    expiresAt: rfc3339ToIso(batch.expires_at),
    raw: { resultsUrl: batch.results_url, cancelInitiatedAt: batch.cancel_initiated_at, archivedAt: batch.archived_at },
    detail: null,
  });
}

const resultLineSchema = z.object({
  custom_id: z.string(),
  result: z.discriminatedUnion("type", [
    z.object({ type: z.literal("succeeded"), message: z.unknown() }),
    z.object({
      type: z.literal("errored"),
      // An ErrorResponse: { type: "error", error: { type, message } }.
      error: z.object({ error: z.object({ type: z.string().nullish(), message: z.string().nullish() }).nullish() }).loose(),
    }),
    z.object({ type: z.literal("canceled") }),
    z.object({ type: z.literal("expired") }),
  ]),
});

/** One line of the results JSONL: `{"custom_id": "...", "result": {"type": "succeeded", "message": {...}}}`. */
export function anthropicResultFromLine(value: unknown): BatchResult | undefined {
  const parsed = resultLineSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { custom_id: customId, result } = parsed.data;
  switch (result.type) {
    case "succeeded":
      return { ok: true, customId, body: result.message };
    case "errored":
      return {
        ok: false,
        customId,
        error: { code: result.error.error?.type ?? "errored", message: result.error.error?.message ?? "request errored" },
      };
    case "canceled":
      return { ok: false, customId, error: { code: "canceled", message: "the batch was canceled before this request ran" } };
    case "expired":
      return { ok: false, customId, error: { code: "expired", message: "the batch expired before this request ran" } };
  }
}

async function* anthropicResults(id: string, options: RetrieveOptions | undefined): AsyncGenerator<BatchResult> {
  assertBatchKind(PROVIDER, options);
  const client = await createAnthropicClient();
  const batch = await retrieveBatch(client, id);
  // results_url appears only once the batch has ended.
  const resultsUrl = batch.results_url;
  if (!resultsUrl) return;
  const body = await callProvider(PROVIDER, async (signal) =>
    bodyOf(
      await client.get(resultsUrl, { headers: { Accept: "application/binary" }, __binaryResponse: true, signal }).asResponse(),
      PROVIDER,
    ),
  );
  yield* streamResultFile(body, PROVIDER, anthropicResultFromLine, "anthropic results file");
}

export const anthropicProvider: ProviderAdapter = {
  name: PROVIDER,
  supportedKinds: ["batch"],
  nativeWebhooks: false,
  // A message batch expires 24 h after creation.
  completionWindowMs: DAY_MS,
  assertConfigured: () => void requireEnv(PROVIDER, ["ANTHROPIC_API_KEY"]),
  async retrieve(id, options) {
    assertBatchKind(PROVIDER, options);
    return snapshotFromAnthropicBatch(await retrieveBatch(await createAnthropicClient(), id));
  },
  results: anthropicResults,
};
