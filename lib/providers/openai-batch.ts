import type OpenAI from "openai";
import { z } from "zod";
import { callProvider, bodyOf, parseProviderPayload } from "./http";
import { streamResultFiles } from "./lines";
import { assertBatchKind, makeSnapshot, mapStatus, unixSecondsToIso } from "./snapshot";
import type { BatchResult, ProviderAdapter, ProviderName, RetrieveOptions, UnifiedSnapshot } from "./types";

/**
 * OpenAI's batch object and result-file line format, shared by OpenAI, Azure OpenAI and Groq
 * (same object) and, for result lines, by Together and Mistral (same JSONL shape).
 */

export const OPENAI_BATCH_STATUS_MAP = {
  validating: "validating",
  in_progress: "in_progress",
  finalizing: "finalizing",
  completed: "completed",
  failed: "failed",
  expired: "expired",
  cancelling: "cancelling",
  cancelled: "cancelled",
} as const;

const timestamp = z.number().nullish();

export const openAIBatchSchema = z.object({
  id: z.string(),
  status: z.string(),
  created_at: z.number(),
  in_progress_at: timestamp,
  finalizing_at: timestamp,
  completed_at: timestamp,
  failed_at: timestamp,
  expired_at: timestamp,
  cancelling_at: timestamp,
  cancelled_at: timestamp,
  expires_at: timestamp,
  request_counts: z
    .object({ total: z.number().int().nonnegative(), completed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() })
    .nullish(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  errors: z
    .object({
      data: z
        .array(z.object({ code: z.string().nullish(), message: z.string().nullish(), line: z.number().nullish() }))
        .nullish(),
    })
    .nullish(),
  model: z.string().nullish(),
  endpoint: z.string().nullish(),
  completion_window: z.string().nullish(),
});
export type OpenAIBatch = z.infer<typeof openAIBatchSchema>;

const MAX_RAW_ERRORS = 5;

export function snapshotFromOpenAIBatch(provider: ProviderName, batch: OpenAIBatch): UnifiedSnapshot {
  const status = mapStatus(OPENAI_BATCH_STATUS_MAP, batch.status, provider);
  const endedAt =
    status === "completed" ? batch.completed_at
    : status === "failed" ? batch.failed_at
    : status === "expired" ? batch.expired_at
    : status === "cancelled" ? batch.cancelled_at
    : null;
  return makeSnapshot({
    provider,
    kind: "batch",
    id: batch.id,
    status,
    providerStatus: batch.status,
    requestCounts: batch.request_counts
      ? { total: batch.request_counts.total, completed: batch.request_counts.completed, failed: batch.request_counts.failed }
      : null,
    createdAt: unixSecondsToIso(batch.created_at),
    endedAt: unixSecondsToIso(endedAt),
    expiresAt: unixSecondsToIso(batch.expires_at),
    raw: {
      outputFileId: batch.output_file_id,
      errorFileId: batch.error_file_id,
      errors: batch.errors?.data?.length
        ? batch.errors.data.slice(0, MAX_RAW_ERRORS).map((error) => ({ code: error.code, message: error.message, line: error.line }))
        : undefined,
      model: batch.model,
      endpoint: batch.endpoint,
      completionWindow: batch.completion_window,
    },
    detail: null,
  });
}

const errorObject = z.object({ code: z.union([z.string(), z.number()]).nullish(), message: z.string().nullish(), type: z.string().nullish() });

const resultLineSchema = z.object({
  custom_id: z.string().nullish(),
  response: z.object({ status_code: z.number().int(), body: z.unknown().optional() }).nullish(),
  error: z.union([errorObject, z.string()]).nullish(),
});

const errorBodySchema = z.object({ error: errorObject });

function codeText(code: string | number | null | undefined): string | null {
  return code === null || code === undefined ? null : String(code);
}

/**
 * One line of an OpenAI-format output or error file:
 * `{"custom_id": "...", "response": {"status_code": 200, "body": {...}}, "error": null}`.
 * A 4xx/5xx response or a non-null `error` is a failed request.
 */
export function openAIResultFromLine(value: unknown): BatchResult | undefined {
  const parsed = resultLineSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { custom_id, response, error } = parsed.data;
  const customId = custom_id ?? null;
  if (error) {
    return typeof error === "string"
      ? { ok: false, customId, error: { code: null, message: error } }
      : { ok: false, customId, error: { code: codeText(error.code ?? error.type), message: error.message ?? "request failed" } };
  }
  if (!response) return undefined;
  if (response.status_code >= 200 && response.status_code < 300) return { ok: true, customId, body: response.body ?? null };
  const bodyError = errorBodySchema.safeParse(response.body);
  return {
    ok: false,
    customId,
    error: {
      code: bodyError.success ? codeText(bodyError.data.error.code ?? bodyError.data.error.type) : `http_${response.status_code}`,
      message: (bodyError.success ? bodyError.data.error.message : null) ?? `request failed with HTTP ${response.status_code}`,
    },
  };
}

export interface OpenAICompatibleConfig {
  name: ProviderName;
  completionWindowMs: number;
  nativeWebhooks: boolean;
  /** Names every required variable; throws `credentials` when one is missing. */
  assertConfigured(): void;
  /** Builds a client from the current environment (called per request; the SDK loads on first use). */
  createClient(): Promise<OpenAI>;
}

async function retrieveOpenAIBatch(config: OpenAICompatibleConfig, client: OpenAI, id: string): Promise<OpenAIBatch> {
  const batch = await callProvider(config.name, (signal) => client.batches.retrieve(id, { signal }));
  return parseProviderPayload(openAIBatchSchema, batch, config.name, "batch object");
}

/** Streams the output file, then the error file, of an OpenAI-shaped batch. */
async function* openAIBatchResults(
  config: OpenAICompatibleConfig,
  id: string,
  options: RetrieveOptions | undefined,
): AsyncGenerator<BatchResult> {
  assertBatchKind(config.name, options);
  const client = await config.createClient();
  const batch = await retrieveOpenAIBatch(config, client, id);
  const files = [
    { fileId: batch.output_file_id, describe: `${config.name} output file` },
    { fileId: batch.error_file_id, describe: `${config.name} error file` },
  ];
  const download = (fileId: string) =>
    callProvider(config.name, async (signal) => bodyOf(await client.files.content(fileId, { signal }), config.name));
  yield* streamResultFiles(config.name, files, download, openAIResultFromLine);
}

/** The adapter for any provider that serves OpenAI's batch API through the openai SDK. */
export function createOpenAICompatibleAdapter(config: OpenAICompatibleConfig): ProviderAdapter {
  return {
    name: config.name,
    supportedKinds: ["batch"],
    nativeWebhooks: config.nativeWebhooks,
    completionWindowMs: config.completionWindowMs,
    assertConfigured: () => config.assertConfigured(),
    async retrieve(id, options) {
      assertBatchKind(config.name, options);
      const batch = await retrieveOpenAIBatch(config, await config.createClient(), id);
      return snapshotFromOpenAIBatch(config.name, batch);
    },
    results: (id, options) => openAIBatchResults(config, id, options),
  };
}
