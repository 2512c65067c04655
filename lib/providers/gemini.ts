import { z } from "zod";
import { baseUrlFromEnv, HOUR_MS, requireEnv } from "./config";
import { fetchBody, fetchJson } from "./http";
import { malformedLine, streamResultFile } from "./lines";
import { assertBatchKind, makeSnapshot, mapStatus, rfc3339ToIso } from "./snapshot";
import type { BatchResult, ProviderAdapter, RetrieveOptions, UnifiedSnapshot, UnifiedStatus } from "./types";

/**
 * Gemini Batch Mode over plain REST. @google/genai is not used: its batches.get drops
 * `metadata.batchStats` and rewrites BATCH_STATE_* into JOB_STATE_*, losing the counts.
 * GEMINI_BASE_URL means what GOOGLE_GEMINI_BASE_URL means to the SDK: the host, without the
 * API version, which is appended here.
 */

const PROVIDER = "gemini";
export const GEMINI_DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";
export const GEMINI_API_VERSION = "v1beta";

/**
 * BATCH_STATE_* is what batches.get documents; JOB_STATE_* is tolerated because live operations
 * have been seen reporting it. UNSPECIFIED (also what an omitted proto3 enum means) is a job
 * the API has not classified yet, so it is treated as still validating.
 */
export const GEMINI_STATUS_MAP = {
  BATCH_STATE_UNSPECIFIED: "validating",
  BATCH_STATE_PENDING: "validating",
  BATCH_STATE_RUNNING: "in_progress",
  BATCH_STATE_SUCCEEDED: "completed",
  BATCH_STATE_FAILED: "failed",
  BATCH_STATE_CANCELLED: "cancelled",
  BATCH_STATE_EXPIRED: "expired",
  JOB_STATE_UNSPECIFIED: "validating",
  JOB_STATE_QUEUED: "validating",
  JOB_STATE_PENDING: "validating",
  JOB_STATE_RUNNING: "in_progress",
  JOB_STATE_UPDATING: "in_progress",
  JOB_STATE_PAUSED: "in_progress",
  JOB_STATE_SUCCEEDED: "completed",
  JOB_STATE_PARTIALLY_SUCCEEDED: "completed",
  JOB_STATE_FAILED: "failed",
  JOB_STATE_CANCELLING: "cancelling",
  JOB_STATE_CANCELLED: "cancelled",
  JOB_STATE_EXPIRED: "expired",
} as const;

/** int64 fields arrive as JSON strings; proto3 JSON omits zeros, so absent means 0. */
const int64 = z
  .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
  .transform(Number)
  .default(0);

const inlinedSchema = z.union([z.object({ inlinedResponses: z.array(z.unknown()).nullish() }), z.array(z.unknown())]).nullish();

/**
 * GenerateContentBatchOutput / EmbedContentBatchOutput. Embedding batches may keep their inline
 * results under `inlinedEmbedContentResponses` (where @google/genai reads them).
 */
const outputSchema = z.object({
  responsesFile: z.string().nullish(),
  inlinedResponses: inlinedSchema,
  inlinedEmbedContentResponses: inlinedSchema,
});
type GeminiOutput = z.infer<typeof outputSchema>;

const statusSchema = z.object({ code: z.union([z.number(), z.string()]).nullish(), message: z.string().nullish(), status: z.string().nullish() });

/** batches.get answers with a long-running Operation whose metadata is the GenerateContentBatch. */
export const geminiOperationSchema = z.object({
  name: z.string(),
  done: z.boolean().optional(),
  error: statusSchema.nullish(),
  metadata: z.object({
    model: z.string().nullish(),
    displayName: z.string().nullish(),
    state: z.string().optional(),
    createTime: z.string().nullish(),
    endTime: z.string().nullish(),
    updateTime: z.string().nullish(),
    batchStats: z
      .object({
        requestCount: int64,
        successfulRequestCount: int64,
        failedRequestCount: int64,
        pendingRequestCount: int64,
      })
      .nullish(),
    output: outputSchema.nullish(),
  }),
  response: outputSchema.nullish(),
});
type GeminiOperation = z.infer<typeof geminiOperationSchema>;

/** Ids look like `batches/123`; a bare `123` gets the prefix, a prefixed one is used as given. */
export function geminiResourceName(id: string): string {
  return id.startsWith("batches/") ? id : `batches/${id}`;
}

/** The resource name as a URL path. */
export function geminiBatchName(id: string): string {
  return geminiResourceName(id).split("/").map(encodeURIComponent).join("/");
}

function geminiConfig() {
  const env = requireEnv(PROVIDER, ["GEMINI_API_KEY"]);
  return { baseUrl: baseUrlFromEnv("GEMINI_BASE_URL", GEMINI_DEFAULT_BASE_URL), headers: { "x-goog-api-key": env.GEMINI_API_KEY } };
}

async function retrieveOperation(id: string): Promise<GeminiOperation> {
  const { baseUrl, headers } = geminiConfig();
  return fetchJson(PROVIDER, `${baseUrl}/${GEMINI_API_VERSION}/${geminiBatchName(id)}`, headers, geminiOperationSchema, "batch operation");
}

/**
 * The batch state decides. When it is unspecified (proto3 JSON omits it), the long-running
 * Operation's own `done` and `error` say how it stands (providerStatus `done` or `error`).
 */
function geminiStatus(operation: GeminiOperation): { status: UnifiedStatus; providerStatus: string } {
  const state = operation.metadata.state ?? "BATCH_STATE_UNSPECIFIED";
  const status = mapStatus(GEMINI_STATUS_MAP, state, PROVIDER);
  if (!state.endsWith("_UNSPECIFIED") || !operation.done) return { status, providerStatus: state };
  return operation.error ? { status: "failed", providerStatus: "error" } : { status: "completed", providerStatus: "done" };
}

export function snapshotFromGeminiOperation(operation: GeminiOperation): UnifiedSnapshot {
  const { metadata } = operation;
  const { status, providerStatus } = geminiStatus(operation);
  const stats = metadata.batchStats;
  const output = operation.response ?? metadata.output;
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: operation.name,
    status,
    providerStatus,
    requestCounts: stats
      ? {
          total: stats.requestCount,
          completed: stats.successfulRequestCount,
          failed: stats.failedRequestCount,
          processing: stats.pendingRequestCount,
        }
      : null,
    createdAt: rfc3339ToIso(metadata.createTime),
    endedAt: rfc3339ToIso(metadata.endTime),
    expiresAt: null,
    raw: {
      responsesFile: output?.responsesFile,
      model: metadata.model,
      displayName: metadata.displayName,
      error: operation.error?.message ? { code: operation.error.code, message: operation.error.message } : undefined,
    },
    detail: null,
  });
}

const resultSchema = z.object({
  key: z.string().nullish(),
  metadata: z.object({ key: z.string().nullish() }).nullish(),
  response: z.unknown().optional(),
  error: statusSchema.nullish(),
});

/** One result, from the responses file (`{"key", "response"|"error"}`) or an inlined response (`metadata.key`). */
export function geminiResultFromValue(value: unknown): BatchResult | undefined {
  const parsed = resultSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { key, metadata, response, error } = parsed.data;
  const customId = key ?? metadata?.key ?? null;
  if (error) {
    const code = error.status ?? (error.code === null || error.code === undefined ? null : String(error.code));
    return { ok: false, customId, error: { code, message: error.message ?? "request failed" } };
  }
  if (response === undefined) return undefined;
  return { ok: true, customId, body: response };
}

function inlinedItems(output: GeminiOutput | null | undefined): unknown[] {
  const inlined = output?.inlinedResponses ?? output?.inlinedEmbedContentResponses;
  return Array.isArray(inlined) ? inlined : (inlined?.inlinedResponses ?? []);
}

async function* geminiResults(id: string, options: RetrieveOptions | undefined): AsyncGenerator<BatchResult> {
  assertBatchKind(PROVIDER, options);
  const operation = await retrieveOperation(id);
  const output = operation.response ?? operation.metadata.output;
  if (output?.responsesFile) {
    const { baseUrl, headers } = geminiConfig();
    const file = output.responsesFile.split("/").map(encodeURIComponent).join("/");
    const body = await fetchBody(PROVIDER, `${baseUrl}/download/${GEMINI_API_VERSION}/${file}:download?alt=media`, headers);
    yield* streamResultFile(body, PROVIDER, geminiResultFromValue, "gemini responses file");
    return;
  }
  for (const [index, item] of inlinedItems(output).entries()) {
    yield geminiResultFromValue(item) ?? malformedLine(index + 1, `inlined response ${index + 1} is not a result object`);
  }
}

export const geminiProvider: ProviderAdapter = {
  name: PROVIDER,
  supportedKinds: ["batch"],
  nativeWebhooks: true,
  // A batch still pending or running 48 h after creation expires.
  completionWindowMs: 48 * HOUR_MS,
  assertConfigured: () => void requireEnv(PROVIDER, ["GEMINI_API_KEY"]),
  async retrieve(id, options) {
    assertBatchKind(PROVIDER, options);
    return snapshotFromGeminiOperation(await retrieveOperation(id));
  },
  results: geminiResults,
};
