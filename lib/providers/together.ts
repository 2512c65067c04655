import { z } from "zod";
import { baseUrlFromEnv, HOUR_MS, requireEnv } from "./config";
import { fetchBody, fetchJson } from "./http";
import { streamResultFiles } from "./lines";
import { openAIResultFromLine } from "./openai-batch";
import { assertBatchKind, makeSnapshot, mapStatus, rfc3339ToIso } from "./snapshot";
import { type BatchResult, isTerminal, type ProviderAdapter, type RetrieveOptions, type UnifiedSnapshot } from "./types";

/**
 * Together's batch API over plain fetch (its SDK is not a dependency). Statuses are upper-case
 * and there are no request counts, only a `progress` figure from 0 to 100.
 * TOGETHER_BASE_URL means what it means to together-ai: it includes `/v1`.
 */

const PROVIDER = "together";
/** together-ai's own default; the old api.together.xyz redirects, dropping Authorization cross-origin. */
export const TOGETHER_DEFAULT_BASE_URL = "https://api.together.ai/v1";

/** The documented enum, plus CANCELLING, which a cancel request passes through. */
export const TOGETHER_STATUS_MAP = {
  VALIDATING: "validating",
  IN_PROGRESS: "in_progress",
  COMPLETED: "completed",
  FAILED: "failed",
  EXPIRED: "expired",
  CANCELLING: "cancelling",
  CANCELLED: "cancelled",
} as const;

export const togetherBatchSchema = z.object({
  id: z.string(),
  status: z.string(),
  created_at: z.string().nullish(),
  completed_at: z.string().nullish(),
  job_deadline: z.string().nullish(),
  progress: z.number().min(0).max(100).nullish(),
  input_file_id: z.string().nullish(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  error: z.string().nullish(),
  model_id: z.string().nullish(),
  endpoint: z.string().nullish(),
});
type TogetherBatch = z.infer<typeof togetherBatchSchema>;

function togetherConfig() {
  const env = requireEnv(PROVIDER, ["TOGETHER_API_KEY"]);
  return { baseUrl: baseUrlFromEnv("TOGETHER_BASE_URL", TOGETHER_DEFAULT_BASE_URL), headers: { authorization: `Bearer ${env.TOGETHER_API_KEY}` } };
}

function retrieveBatch(id: string): Promise<TogetherBatch> {
  const { baseUrl, headers } = togetherConfig();
  return fetchJson(PROVIDER, `${baseUrl}/batches/${encodeURIComponent(id)}`, headers, togetherBatchSchema, "batch job");
}

export function snapshotFromTogetherBatch(batch: TogetherBatch): UnifiedSnapshot {
  const status = mapStatus(TOGETHER_STATUS_MAP, batch.status, PROVIDER);
  const terminalEnd = isTerminal(status);
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: batch.id,
    status,
    providerStatus: batch.status,
    requestCounts: null,
    progress: batch.progress === null || batch.progress === undefined ? null : batch.progress / 100,
    createdAt: rfc3339ToIso(batch.created_at),
    endedAt: terminalEnd ? rfc3339ToIso(batch.completed_at) : null,
    expiresAt: rfc3339ToIso(batch.job_deadline),
    raw: {
      outputFileId: batch.output_file_id,
      errorFileId: batch.error_file_id,
      error: batch.error || undefined,
      model: batch.model_id,
      endpoint: batch.endpoint,
    },
    detail: null,
  });
}

/** Output and error files use OpenAI's JSONL line format. */
async function* togetherResults(id: string, options: RetrieveOptions | undefined): AsyncGenerator<BatchResult> {
  assertBatchKind(PROVIDER, options);
  const batch = await retrieveBatch(id);
  const files = [
    { fileId: batch.output_file_id, describe: "together output file" },
    { fileId: batch.error_file_id, describe: "together error file" },
  ];
  const download = (fileId: string) => {
    const { baseUrl, headers } = togetherConfig();
    return fetchBody(PROVIDER, `${baseUrl}/files/${encodeURIComponent(fileId)}/content`, headers);
  };
  yield* streamResultFiles(PROVIDER, files, download, openAIResultFromLine);
}

export const togetherProvider: ProviderAdapter = {
  name: PROVIDER,
  supportedKinds: ["batch"],
  nativeWebhooks: false,
  // Together targets 24 h but documents no hard window; allow three days before giving up.
  completionWindowMs: 72 * HOUR_MS,
  assertConfigured: () => void requireEnv(PROVIDER, ["TOGETHER_API_KEY"]),
  async retrieve(id, options) {
    assertBatchKind(PROVIDER, options);
    return snapshotFromTogetherBatch(await retrieveBatch(id));
  },
  results: togetherResults,
};
