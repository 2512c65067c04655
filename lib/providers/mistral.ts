import type { Mistral } from "@mistralai/mistralai";
import { z } from "zod";
import { baseUrlFromEnv, DAY_MS, requireEnv } from "./config";
import { callProvider, parseProviderPayload, sdkTimeoutMs } from "./http";
import { malformedLine, streamResultFiles } from "./lines";
import { openAIResultFromLine } from "./openai-batch";
import { assertBatchKind, makeSnapshot, mapStatus, unixSecondsToIso } from "./snapshot";
import type { BatchResult, ProviderAdapter, RetrieveOptions, UnifiedSnapshot } from "./types";

/**
 * Mistral batch jobs through @mistralai/mistralai (which itself validates and camel-cases the job).
 * MISTRAL_BASE_URL is the SDK's serverURL: the host, without `/v1`.
 */

const PROVIDER = "mistral";
export const MISTRAL_DEFAULT_BASE_URL = "https://api.mistral.ai";

export const MISTRAL_STATUS_MAP = {
  QUEUED: "validating",
  RUNNING: "in_progress",
  SUCCESS: "completed",
  FAILED: "failed",
  TIMEOUT_EXCEEDED: "expired",
  CANCELLATION_REQUESTED: "cancelling",
  CANCELLED: "cancelled",
} as const;

const count = z.number().int().nonnegative();

/** The SDK's camel-cased BatchJob, re-validated at our boundary. */
const mistralJobSchema = z.object({
  id: z.string(),
  status: z.string(),
  createdAt: z.number(),
  startedAt: z.number().nullish(),
  completedAt: z.number().nullish(),
  totalRequests: count,
  completedRequests: count,
  succeededRequests: count,
  failedRequests: count,
  outputFile: z.string().nullish(),
  errorFile: z.string().nullish(),
  errors: z.array(z.object({ message: z.string(), count: z.number().nullish() })).nullish(),
  /** An inline batch's results, only when the job is read with `inline: true`. */
  outputs: z.array(z.unknown()).nullish(),
  model: z.string().nullish(),
  endpoint: z.string().nullish(),
});
type MistralJob = z.infer<typeof mistralJobSchema>;

async function createMistralClient(): Promise<Mistral> {
  const env = requireEnv(PROVIDER, ["MISTRAL_API_KEY"]);
  const { Mistral } = await import("@mistralai/mistralai");
  return new Mistral({
    apiKey: env.MISTRAL_API_KEY,
    serverURL: baseUrlFromEnv("MISTRAL_BASE_URL", MISTRAL_DEFAULT_BASE_URL),
    timeoutMs: sdkTimeoutMs(),
    retryConfig: { strategy: "none" },
  });
}

async function retrieveJob(client: Mistral, id: string, inline = false): Promise<MistralJob> {
  const request = inline ? { jobId: id, inline: true } : { jobId: id };
  const job = await callProvider(PROVIDER, (signal) => client.batch.jobs.get(request, { signal }));
  return parseProviderPayload(mistralJobSchema, job, PROVIDER, "batch job");
}

export function snapshotFromMistralJob(job: MistralJob): UnifiedSnapshot {
  const status = mapStatus(MISTRAL_STATUS_MAP, job.status, PROVIDER);
  return makeSnapshot({
    provider: PROVIDER,
    kind: "batch",
    id: job.id,
    status,
    providerStatus: job.status,
    requestCounts: {
      total: job.totalRequests,
      completed: job.succeededRequests,
      failed: job.failedRequests,
      // completed_requests counts succeeded and failed alike; the rest are still to run.
      processing: Math.max(0, job.totalRequests - job.completedRequests),
    },
    createdAt: unixSecondsToIso(job.createdAt),
    endedAt: unixSecondsToIso(job.completedAt),
    expiresAt: null,
    raw: {
      outputFile: job.outputFile,
      errorFile: job.errorFile,
      errors: job.errors?.length ? job.errors.slice(0, 5) : undefined,
      model: job.model,
      endpoint: job.endpoint,
    },
    detail: null,
  });
}

/**
 * Output and error files use OpenAI's JSONL line format. An inline batch (created with `requests`)
 * has neither file: its results are the job's `outputs`, sent only when asked for with `inline`, so
 * a file batch is never made to carry them. Each output is read like a file line.
 */
async function* mistralResults(id: string, options: RetrieveOptions | undefined): AsyncGenerator<BatchResult> {
  assertBatchKind(PROVIDER, options);
  const client = await createMistralClient();
  const job = await retrieveJob(client, id);
  if (!job.outputFile && !job.errorFile) {
    const { outputs } = await retrieveJob(client, id, true);
    for (const [index, output] of (outputs ?? []).entries()) {
      yield openAIResultFromLine(output) ?? malformedLine(index + 1, `output ${index + 1} is not a result object`);
    }
    return;
  }
  const files = [
    { fileId: job.outputFile, describe: "mistral output file" },
    { fileId: job.errorFile, describe: "mistral error file" },
  ];
  const download = (fileId: string) => callProvider(PROVIDER, (signal) => client.files.download({ fileId }, { signal }));
  yield* streamResultFiles(PROVIDER, files, download, openAIResultFromLine);
}

export const mistralProvider: ProviderAdapter = {
  name: PROVIDER,
  supportedKinds: ["batch"],
  nativeWebhooks: false,
  // timeout_hours defaults to 24 and may be raised to 168; a job past it ends as TIMEOUT_EXCEEDED.
  completionWindowMs: 7 * DAY_MS,
  assertConfigured: () => void requireEnv(PROVIDER, ["MISTRAL_API_KEY"]),
  async retrieve(id, options) {
    assertBatchKind(PROVIDER, options);
    return snapshotFromMistralJob(await retrieveJob(await createMistralClient(), id));
  },
  results: mistralResults,
};
