import type { Queryable } from "@/lib/db";
import type { PollObservation } from "@/lib/polling";
import type { JobKind, ProviderName, RequestCounts, UnifiedStatus } from "@/lib/providers/types";
import type { Outcome, SettleReason } from "@/lib/deliver/unified-event";
import type { OutcomeResults } from "@/lib/settle/outcome-results";

/** A row of `jobs`, as the drivers return it (timestamps as Date, jsonb parsed). */
export interface JobRow {
  id: string;
  provider: ProviderName;
  kind: JobKind;
  batch_id: string;
  eval_id: string | null;
  status: UnifiedStatus;
  provider_status: string | null;
  request_counts: RequestCounts | null;
  progress: number | null;
  provider_created_at: Date | null;
  provider_ended_at: Date | null;
  expires_at: Date | null;
  raw: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
  tracked_at: Date;
  poll_count: number;
  last_polled_at: Date | null;
  next_poll_at: Date | null;
  observations: PollObservation[];
  not_found_since: Date | null;
  watch_generation: number;
  watch_lease_until: Date | null;
  settled_at: Date | null;
  outcome: Outcome | null;
  settle_reason: SettleReason | null;
  settled_by: string | null;
  updated_at: Date;
  /** What the requests of a completed batch came to (lib/settle/outcome-results.ts); null otherwise. */
  results: OutcomeResults | null;
  /** The stall in progress (lib/watch/stall.ts); null while the batch moves. */
  stall: Record<string, unknown> | null;
  stall_count: number;
}

export interface SubscriptionRow {
  id: string;
  job_id: string;
  destination_key: string;
  webhook_url: string | null;
  endpoint_id: string | null;
  metadata: Record<string, unknown>;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  /** The subscription's own event filter; null: its endpoint's default, else the four outcomes. */
  events: string[] | null;
  /** The job group it was tracked into, if any. */
  group_key: string | null;
  /** When it became active: created, or re-enabled by tracking again (null on rows older than migration 6). */
  activated_at: Date | null;
}

export const JOB_EVENT_TYPES = [
  "tracked",
  "subscribed",
  "watch_started",
  "polled",
  "poll_error",
  "signal",
  "settled",
  "stalled",
  "resumed",
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

export async function getJob(db: Queryable, jobId: string, options: { forUpdate?: boolean } = {}) {
  const rows = await db.query<JobRow>(`SELECT * FROM jobs WHERE id = $1${options.forUpdate ? " FOR UPDATE" : ""}`, [
    jobId,
  ]);
  return rows[0] ?? null;
}

export async function findJob(db: Queryable, key: { provider: string; kind: string; batchId: string }) {
  const rows = await db.query<JobRow>("SELECT * FROM jobs WHERE provider = $1 AND kind = $2 AND batch_id = $3", [
    key.provider,
    key.kind,
    key.batchId,
  ]);
  return rows[0] ?? null;
}

/** Appends one entry to a job's timeline (what the dashboard shows). */
export async function recordJobEvent(
  db: Queryable,
  jobId: string,
  type: JobEventType,
  detail: Record<string, unknown>,
  at: Date,
): Promise<void> {
  await db.query("INSERT INTO job_events (job_id, type, detail, at) VALUES ($1, $2, $3, $4)", [
    jobId,
    type,
    JSON.stringify(detail),
    at,
  ]);
}

/** A timestamp as the drivers return it (Date, or text when selected as text) in ISO-8601. */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null | undefined): string | null;
export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
