import type { OutcomeResults } from "@/lib/settle/outcome-results";
import type { StallKind } from "@/lib/watch/stall";
import { TERMINAL_STATUSES, type JobKind, type ProviderName, type RequestCounts, type UnifiedStatus } from "@/lib/providers/types";

/**
 * The unified event every subscriber receives, whatever the provider. One `as const` tuple per
 * vocabulary feeds zod enums, TypeScript types and test tables alike.
 */
/** A job's outcome is the terminal status it ended in. */
export const OUTCOMES = TERMINAL_STATUSES;
export type Outcome = (typeof OUTCOMES)[number];

/** Why batchwatch itself ended a watch as failed; null when the provider reported the outcome. */
export const SETTLE_REASONS = ["watch_timeout", "not_found", "credentials", "invalid_response"] as const;
export type SettleReason = (typeof SETTLE_REASONS)[number];

export const BATCH_EVENT_TYPES = ["batch.completed", "batch.failed", "batch.expired", "batch.cancelled"] as const;
export const RESPONSE_EVENT_TYPES = [
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
] as const;
export const FINE_TUNING_EVENT_TYPES = [
  "fine_tuning.job.succeeded",
  "fine_tuning.job.failed",
  "fine_tuning.job.cancelled",
] as const;
export const EVAL_RUN_EVENT_TYPES = ["eval.run.succeeded", "eval.run.failed", "eval.run.canceled"] as const;
/** The outcome of a job, in every kind's spelling: what a subscription receives by default. */
export const OUTCOME_EVENT_TYPES = [
  ...BATCH_EVENT_TYPES,
  ...RESPONSE_EVENT_TYPES,
  ...FINE_TUNING_EVENT_TYPES,
  ...EVAL_RUN_EVENT_TYPES,
] as const;
/**
 * Notices a subscriber opts into with its `events` filter: a batch stopped moving (`batch.stalled`)
 * or moved again (`batch.resumed`); every batch of a job group settled (`group.settled`).
 */
export const NOTICE_EVENT_TYPES = ["batch.stalled", "batch.resumed", "group.settled"] as const;
export type NoticeEventType = (typeof NOTICE_EVENT_TYPES)[number];
/** Every event type a receiver may get: the one tuple of event names. */
export const WEBHOOK_EVENT_TYPES = [...OUTCOME_EVENT_TYPES, ...NOTICE_EVENT_TYPES, "webhook.test"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** The event types of a finished job (an outcome: not a notice, nor an endpoint check's `webhook.test`). */
export type JobEventType = (typeof OUTCOME_EVENT_TYPES)[number];
/** What a subscription's (or an endpoint's default) `events` filter may name: everything but `webhook.test`. */
export const SUBSCRIBABLE_EVENT_TYPES = [...OUTCOME_EVENT_TYPES, ...NOTICE_EVENT_TYPES] as const;
export type SubscribableEventType = (typeof SUBSCRIBABLE_EVENT_TYPES)[number];

/** Event types per kind and outcome, spelled as OpenAI spells them for its own kinds. */
const EVENT_TYPE_BY_KIND: Record<JobKind, Record<Outcome, JobEventType>> = {
  batch: {
    completed: "batch.completed",
    failed: "batch.failed",
    expired: "batch.expired",
    cancelled: "batch.cancelled",
  },
  response: {
    completed: "response.completed",
    failed: "response.failed",
    expired: "response.failed",
    cancelled: "response.cancelled",
  },
  fine_tuning_job: {
    completed: "fine_tuning.job.succeeded",
    failed: "fine_tuning.job.failed",
    expired: "fine_tuning.job.failed",
    cancelled: "fine_tuning.job.cancelled",
  },
  eval_run: {
    completed: "eval.run.succeeded",
    failed: "eval.run.failed",
    expired: "eval.run.failed",
    cancelled: "eval.run.canceled",
  },
};

export function eventTypeFor(kind: JobKind, outcome: Outcome, providerStatus: string | null): JobEventType {
  // A background response that stopped early completes in our lifecycle, but OpenAI names it apart.
  if (kind === "response" && outcome === "completed" && providerStatus === "incomplete") {
    return "response.incomplete";
  }
  return EVENT_TYPE_BY_KIND[kind][outcome];
}

/** {@link eventTypeFor} as SQL over a settled job's row (alias `j`), generated from the same table. */
export function eventTypeSql(j = "j"): string {
  const arms = Object.entries(EVENT_TYPE_BY_KIND).flatMap(([kind, byOutcome]) =>
    Object.entries(byOutcome).map(([outcome, type]) => `WHEN ${j}.kind = '${kind}' AND ${j}.outcome = '${outcome}' THEN '${type}'`),
  );
  return `(CASE WHEN ${j}.kind = 'response' AND ${j}.outcome = 'completed' AND ${j}.provider_status = 'incomplete'
    THEN 'response.incomplete' ${arms.join(" ")} END)`;
}

export interface UnifiedWebhookEvent {
  type: JobEventType;
  /** The provider's own id of the batch (or response, fine-tuning job, eval run). */
  id: string;
  provider: ProviderName;
  kind: JobKind;
  status: UnifiedStatus;
  providerStatus: string | null;
  reason: SettleReason | null;
  requestCounts: RequestCounts | null;
  createdAt: string | null;
  endedAt: string | null;
  metadata: Record<string, unknown>;
  detail?: Record<string, unknown> | null;
  /**
   * A completed batch's requests: whether all succeeded, some or all failed (with why and the most
   * common error). Present on `batch.completed` only; see docs/receiving-webhooks.md.
   */
  results?: OutcomeResults;
}

/** What a stall notice says about the stall (lib/watch/stall.ts). */
export interface StallView {
  /** `no_progress`, `stuck_in_phase` (validating / finalizing) or `past_window`. */
  kind: StallKind;
  /** When it stopped moving (ISO-8601). */
  since: string;
  /** The job's first stall is 1, the next 2, …: one `batch.stalled` and at most one `batch.resumed` each. */
  number: number;
}

/** A running batch stopped moving for far longer than its history (or its provider's norm) predicts. */
export interface BatchStalledEvent {
  type: "batch.stalled";
  id: string;
  provider: ProviderName;
  kind: JobKind;
  status: UnifiedStatus;
  providerStatus: string | null;
  stall: StallView & {
    /** How long it had been stuck when this was sent. */
    forMs: number;
    /** The most its history (or its provider's norm for the phase) predicted; null past its window. */
    expectedMs: number | null;
  };
  requestCounts: RequestCounts | null;
  detectedAt: string;
  metadata: Record<string, unknown>;
}

/** A stalled batch moved again (its status or progress changed). */
export interface BatchResumedEvent {
  type: "batch.resumed";
  id: string;
  provider: ProviderName;
  kind: JobKind;
  status: UnifiedStatus;
  providerStatus: string | null;
  stall: StallView;
  /** How long it was stuck, up to the poll that saw it move. */
  stalledForMs: number;
  resumedAt: string;
  requestCounts: RequestCounts | null;
  metadata: Record<string, unknown>;
}

/** One batch of a settled group, as `group.settled` lists it. */
export interface GroupBatch {
  id: string;
  provider: ProviderName;
  kind: JobKind;
  outcome: Outcome;
  reason: SettleReason | null;
  requestCounts: RequestCounts | null;
  /** On completed batches: what their requests came to (see {@link UnifiedWebhookEvent.results}). */
  results?: OutcomeResults;
  endedAt: string | null;
}

/** Every batch of a job group has settled (lib/settle/groups.ts). */
export interface GroupSettledEvent {
  type: "group.settled";
  /** The `group` key the batches were tracked with. */
  group: string;
  /** 1 for its first settlement; a batch joining after it settled reopens it, and the next settlement counts up. */
  settlement: number;
  settledAt: string;
  totals: {
    batches: number;
    outcomes: Record<Outcome, number>;
    /** Summed over the batches that report counts; null when none does. */
    requests: { total: number; completed: number; failed: number } | null;
  };
  /** Each batch (the first 1,000: oldest tracked first, then by provider and id). */
  batches: GroupBatch[];
  /** The metadata of the subscription it is delivered for. */
  metadata: Record<string, unknown>;
}

/** What an endpoint check (`POST /api/endpoints/{id}/test`) delivers, before any job ends. */
export interface WebhookTestEvent {
  type: "webhook.test";
  /** The endpoint's name. */
  endpoint: string;
  sentAt: string;
}
