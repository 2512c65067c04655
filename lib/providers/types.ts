/**
 * The provider contract: every provider module turns its API's job object into one
 * {@link UnifiedSnapshot}, so the durable layer never sees a provider-specific shape.
 */

export const PROVIDER_NAMES = [
  "openai",
  "azure",
  "groq",
  "together",
  "xai",
  "anthropic",
  "gemini",
  "mistral",
  "simulated",
] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** OpenAI's batch vocabulary, which every provider is mapped onto. */
export const UNIFIED_STATUSES = [
  "validating",
  "in_progress",
  "finalizing",
  "completed",
  "failed",
  "expired",
  "cancelling",
  "cancelled",
] as const;
export type UnifiedStatus = (typeof UNIFIED_STATUSES)[number];

/** The statuses a job ends in: the one definition (a job's outcome is its terminal status). */
export const TERMINAL_STATUSES = ["completed", "failed", "expired", "cancelled"] as const satisfies readonly UnifiedStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export const JOB_KINDS = ["batch", "response", "fine_tuning_job", "eval_run"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * Per-request counts with OpenAI's meaning: `completed` = requests that succeeded, `failed` =
 * requests that failed. The optional fields are present only when the provider reports them.
 */
export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
  cancelled?: number;
  expired?: number;
  processing?: number;
}

export interface UnifiedSnapshot {
  provider: ProviderName;
  kind: JobKind;
  id: string;
  status: UnifiedStatus;
  terminal: boolean;
  /** The provider's own status word, unmapped (for xAI, which has none, the derived phase). */
  providerStatus: string;
  /** Null when the provider reports no counts; counts are never invented. */
  requestCounts: RequestCounts | null;
  /** 0–1, from the counts or the provider's own figure; null when neither exists. */
  progress: number | null;
  createdAt: string | null;
  endedAt: string | null;
  expiresAt: string | null;
  /** Small debugging subset: output/error file ids, error messages. */
  raw: Record<string, unknown>;
  /** Per-kind detail (fine-tuned model, usage, error) for non-batch kinds; null for batches. */
  detail: Record<string, unknown> | null;
}

export interface RetrieveOptions {
  kind?: JobKind;
  /** Required to retrieve an OpenAI eval run (`kind: "eval_run"`). */
  evalId?: string;
  /** Epoch ms when the watch started; the simulated provider measures its clock from it. */
  trackedAt?: number;
}

export type BatchResult =
  | { customId: string | null; ok: true; body: unknown }
  | { customId: string | null; ok: false; error: { code: string | null; message: string; line?: number } };

export interface ProviderAdapter {
  readonly name: ProviderName;
  /** `["batch"]` everywhere except OpenAI, which also watches responses, fine-tuning jobs and eval runs. */
  readonly supportedKinds: readonly JobKind[];
  /** True where the provider can push a completion webhook itself (OpenAI, Gemini). */
  readonly nativeWebhooks: boolean;
  /** Longest time the provider lets a batch run before it ends it; bounds a watch (the lead adds a margin). */
  readonly completionWindowMs: number;
  /** Same bound per kind where kinds differ (OpenAI fine-tuning runs far longer than a batch). */
  readonly completionWindowMsByKind?: Readonly<Partial<Record<JobKind, number>>>;
  /** Throws ProviderError `credentials` naming the missing variable(s), or `not_enabled` for a disabled simulator. */
  assertConfigured(): void;
  retrieve(id: string, options?: RetrieveOptions): Promise<UnifiedSnapshot>;
  /** Streams per-request results lazily from the provider's output and error files. */
  results(id: string, options?: RetrieveOptions): AsyncIterable<BatchResult>;
}
