import type OpenAI from "openai";
import { z } from "zod";
import { baseUrlFromEnv, DAY_MS, HOUR_MS, requireEnv } from "./config";
import { ProviderError } from "./errors";
import { callProvider, parseProviderPayload, sdkTimeoutMs } from "./http";
import { createOpenAICompatibleAdapter } from "./openai-batch";
import { compact, makeSnapshot, mapStatus, unixSecondsToIso } from "./snapshot";
import { JOB_KINDS, type JobKind, type ProviderAdapter, type RetrieveOptions, type UnifiedSnapshot } from "./types";

/** OpenAI through the official SDK: batches plus responses, fine-tuning jobs and eval runs. */

/** The SDK's default; OPENAI_BASE_URL has the same meaning (it includes `/v1`). */
export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";
const PROVIDER = "openai";

async function createOpenAIClient(): Promise<OpenAI> {
  const env = requireEnv(PROVIDER, ["OPENAI_API_KEY"]);
  const { OpenAI } = await import("openai");
  return new OpenAI({
    apiKey: env.OPENAI_API_KEY,
    baseURL: baseUrlFromEnv("OPENAI_BASE_URL", OPENAI_DEFAULT_BASE_URL),
    maxRetries: 0,
    timeout: sdkTimeoutMs(),
  });
}

/** Background responses: `incomplete` ended (e.g. max_output_tokens) and is reported as completed. */
export const OPENAI_RESPONSE_STATUS_MAP = {
  queued: "validating",
  in_progress: "in_progress",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
  incomplete: "completed",
} as const;

/** A job can be paused and resumed (fineTuning.jobs.pause/resume): pausing or paused, it is not over. */
export const OPENAI_FINE_TUNING_STATUS_MAP = {
  validating_files: "validating",
  queued: "validating",
  running: "in_progress",
  pausing: "in_progress",
  paused: "in_progress",
  succeeded: "completed",
  failed: "failed",
  cancelled: "cancelled",
} as const;

/** Eval runs spell it `canceled`. */
export const OPENAI_EVAL_RUN_STATUS_MAP = {
  queued: "validating",
  in_progress: "in_progress",
  completed: "completed",
  failed: "failed",
  canceled: "cancelled",
} as const;

const apiError = z.object({ code: z.string().nullish(), message: z.string().nullish(), param: z.string().nullish() }).nullish();

const responseSchema = z.object({
  id: z.string(),
  status: z.string(),
  created_at: z.number(),
  completed_at: z.number().nullish(),
  model: z.string().nullish(),
  error: apiError,
  incomplete_details: z.object({ reason: z.string().nullish() }).nullish(),
  usage: z
    .object({ input_tokens: z.number(), output_tokens: z.number(), total_tokens: z.number() })
    .nullish(),
  output_text: z.string().optional(),
});

const fineTuningJobSchema = z.object({
  id: z.string(),
  status: z.string(),
  created_at: z.number(),
  finished_at: z.number().nullish(),
  estimated_finish: z.number().nullish(),
  model: z.string().nullish(),
  fine_tuned_model: z.string().nullish(),
  trained_tokens: z.number().nullish(),
  error: apiError,
  result_files: z.array(z.string()).nullish(),
});

const evalRunSchema = z.object({
  id: z.string(),
  eval_id: z.string().nullish(),
  status: z.string(),
  created_at: z.number(),
  model: z.string().nullish(),
  name: z.string().nullish(),
  report_url: z.string().nullish(),
  error: apiError,
  result_counts: z
    .object({
      total: z.number().int().nonnegative(),
      passed: z.number().int().nonnegative(),
      failed: z.number().int().nonnegative(),
      errored: z.number().int().nonnegative(),
    })
    .nullish(),
});

/** An API error object with neither code nor message means "no error" (eval runs send empty ones). */
function errorDetail(error: z.infer<typeof apiError>): Record<string, unknown> | undefined {
  if (!error || (!error.code && !error.message)) return undefined;
  return compact({ code: error.code, message: error.message, param: error.param });
}

async function retrieveResponse(id: string): Promise<UnifiedSnapshot> {
  const client = await createOpenAIClient();
  const payload = await callProvider(PROVIDER, (signal) => client.responses.retrieve(id, {}, { signal }));
  const response = parseProviderPayload(responseSchema, payload, PROVIDER, "response object");
  const status = mapStatus(OPENAI_RESPONSE_STATUS_MAP, response.status, PROVIDER);
  return makeSnapshot({
    provider: PROVIDER,
    kind: "response",
    id: response.id,
    status,
    providerStatus: response.status,
    requestCounts: null,
    progress: null,
    createdAt: unixSecondsToIso(response.created_at),
    endedAt: unixSecondsToIso(response.completed_at),
    expiresAt: null,
    raw: { error: errorDetail(response.error), incompleteReason: response.incomplete_details?.reason },
    detail: compact({
      model: response.model,
      usage: response.usage,
      error: errorDetail(response.error),
      incompleteReason: response.incomplete_details?.reason,
      outputTextLength: response.output_text?.length,
    }),
  });
}

async function retrieveFineTuningJob(id: string): Promise<UnifiedSnapshot> {
  const client = await createOpenAIClient();
  const payload = await callProvider(PROVIDER, (signal) => client.fineTuning.jobs.retrieve(id, { signal }));
  const job = parseProviderPayload(fineTuningJobSchema, payload, PROVIDER, "fine-tuning job");
  const status = mapStatus(OPENAI_FINE_TUNING_STATUS_MAP, job.status, PROVIDER);
  return makeSnapshot({
    provider: PROVIDER,
    kind: "fine_tuning_job",
    id: job.id,
    status,
    providerStatus: job.status,
    requestCounts: null,
    progress: null,
    createdAt: unixSecondsToIso(job.created_at),
    endedAt: unixSecondsToIso(job.finished_at),
    expiresAt: null,
    raw: { error: errorDetail(job.error), resultFiles: job.result_files?.length ? job.result_files : undefined },
    detail: compact({
      model: job.model,
      fineTunedModel: job.fine_tuned_model,
      trainedTokens: job.trained_tokens,
      estimatedFinish: unixSecondsToIso(job.estimated_finish),
      error: errorDetail(job.error),
      resultFiles: job.result_files?.length ? job.result_files : undefined,
    }),
  });
}

/**
 * Eval run counts: `passed` and `failed` items both ran (the grader judged them), so together they
 * are `completed`; `errored` items could not run and are `failed`. The grading split stays in
 * `detail`. `total` counts executed items only, so no progress figure is derived from it.
 */
async function retrieveEvalRun(runId: string, evalId: string | undefined): Promise<UnifiedSnapshot> {
  if (!evalId) {
    throw new ProviderError("not_found", "retrieving an OpenAI eval run needs its evalId", { provider: PROVIDER });
  }
  const client = await createOpenAIClient();
  const payload = await callProvider(PROVIDER, (signal) => client.evals.runs.retrieve(runId, { eval_id: evalId }, { signal }));
  const run = parseProviderPayload(evalRunSchema, payload, PROVIDER, "eval run");
  const status = mapStatus(OPENAI_EVAL_RUN_STATUS_MAP, run.status, PROVIDER);
  const counts = run.result_counts;
  return makeSnapshot({
    provider: PROVIDER,
    kind: "eval_run",
    id: run.id,
    status,
    providerStatus: run.status,
    requestCounts: counts ? { total: counts.total, completed: counts.passed + counts.failed, failed: counts.errored } : null,
    progress: null,
    createdAt: unixSecondsToIso(run.created_at),
    endedAt: null,
    expiresAt: null,
    raw: { error: errorDetail(run.error), reportUrl: run.report_url },
    detail: compact({
      evalId: run.eval_id ?? evalId,
      model: run.model,
      name: run.name,
      passed: counts?.passed,
      failedGrading: counts?.failed,
      errored: counts?.errored,
      error: errorDetail(run.error),
      reportUrl: run.report_url,
    }),
  });
}

const batchAdapter = createOpenAICompatibleAdapter({
  name: PROVIDER,
  completionWindowMs: DAY_MS,
  nativeWebhooks: true,
  assertConfigured: () => void requireEnv(PROVIDER, ["OPENAI_API_KEY"]),
  createClient: createOpenAIClient,
});

/** OpenAI sends webhooks for all four kinds; a fine-tuning job or eval run can run for days. */
const COMPLETION_WINDOW_BY_KIND: Record<JobKind, number> = {
  batch: DAY_MS,
  response: 24 * HOUR_MS,
  fine_tuning_job: 30 * DAY_MS,
  eval_run: 7 * DAY_MS,
};

export const openaiProvider: ProviderAdapter = {
  ...batchAdapter,
  supportedKinds: JOB_KINDS,
  completionWindowMsByKind: COMPLETION_WINDOW_BY_KIND,
  retrieve(id: string, options?: RetrieveOptions): Promise<UnifiedSnapshot> {
    switch (options?.kind ?? "batch") {
      case "batch":
        return batchAdapter.retrieve(id, options);
      case "response":
        return retrieveResponse(id);
      case "fine_tuning_job":
        return retrieveFineTuningJob(id);
      case "eval_run":
        return retrieveEvalRun(id, options?.evalId);
    }
  },
};
