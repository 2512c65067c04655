import { now } from "@/lib/clock";
import { canonicalBatchId } from "@/lib/providers";
import type { Queryable } from "@/lib/db";
import { decodeCursor, encodeCursor } from "@/lib/db/cursor";
import { AppError } from "@/lib/errors";
import { JOB_KINDS, type JobKind, type ProviderName, type RequestCounts, type UnifiedStatus } from "@/lib/providers/types";
import { estimateCompletion, type EtaGap } from "@/lib/watch/eta";
import { effectiveEvents } from "@/lib/deliver/event-filter";
import type { SubscribableEventType } from "@/lib/deliver/unified-event";
import type { OutcomeResults } from "@/lib/settle/outcome-results";
import { iso, type JobRow, type SubscriptionRow } from "./store";

/**
 * The read side of jobs: the views the API returns (never a secret, dates as ISO strings) and the
 * queries behind `GET /api/batches` and `GET /api/batches/{provider}/{batchId}`.
 */

export interface JobView {
  id: string;
  provider: ProviderName;
  kind: JobKind;
  batchId: string;
  evalId: string | null;
  status: UnifiedStatus;
  providerStatus: string | null;
  requestCounts: RequestCounts | null;
  progress: number | null;
  outcome: string | null;
  settleReason: string | null;
  settledBy: string | null;
  trackedAt: string;
  settledAt: string | null;
  providerCreatedAt: string | null;
  providerEndedAt: string | null;
  expiresAt: string | null;
  pollCount: number;
  lastPolledAt: string | null;
  nextPollAt: string | null;
  updatedAt: string;
  /** When it should finish (null once settled); see {@link EtaView}. */
  eta: EtaView | null;
  /** A completed batch's requests: all succeeded, partly or all failed, the most common error; null otherwise. */
  results: OutcomeResults | null;
}

/**
 * A running job's predicted completion, from the evidence its poll schedule uses
 * (lib/watch/eta.ts), or a plain "not enough evidence yet" with the reason and the provider's
 * deadline, the one bound that holds without evidence.
 */
export type EtaView =
  | {
      state: "estimated";
      expectedAt: string;
      earliestAt: string;
      latestAt: string;
      confidence: number;
      basis: "pace" | "finalizing";
      pastDeadline: boolean;
    }
  | { state: "not_enough_evidence"; reason: EtaGap; latestAt: string | null };

export type SubscriptionDestination =
  | { type: "url"; url: string }
  | { type: "endpoint"; endpointId: string; endpointName: string | null };

export interface SubscriptionView {
  id: string;
  jobId: string;
  destination: SubscriptionDestination;
  metadata: Record<string, unknown>;
  disabledAt: string | null;
  disabledReason: string | null;
  createdAt: string;
  /** The event types it receives: its own filter, else its endpoint's default, else the four outcomes. */
  events: SubscribableEventType[];
  /** Where that filter comes from. */
  eventsFrom: "subscription" | "endpoint" | "default";
  /** The job group it was tracked into (docs/api.md#job-groups), or null. */
  group: string | null;
}

export interface DeliveryAttemptView {
  runId: string;
  attempt: number;
  attemptedAt: string;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  responseBody: string | null;
}

/** What every view of a delivery shows: its state and its last attempt. */
export interface DeliverySummary {
  id: string;
  eventType: string;
  status: string;
  attemptCount: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
  createdAt: string;
  /** When the next attempt is due (a retry's backoff, or a resend); null when none is scheduled. */
  nextAttemptAt: string | null;
  /** Why a failed delivery stopped: gave_up, gone, endpoint_disabled, subscription_disabled, sent_once. */
  closedReason: string | null;
}

export interface DeliveryView extends DeliverySummary {
  jobId: string | null;
  subscriptionId: string | null;
  endpointId: string | null;
  attempts: DeliveryAttemptView[];
}

export interface JobEventView {
  at: string;
  type: string;
  detail: Record<string, unknown>;
}

export interface JobDetail {
  job: JobView;
  subscriptions: SubscriptionView[];
  deliveries: DeliveryView[];
  events: JobEventView[];
}

// ---------------------------------------------------------------------------------------------
// Rows to views
// ---------------------------------------------------------------------------------------------

type Timestamp = Date | string | null;

export function jobViewFromRow(row: JobRow): JobView {
  return {
    id: row.id,
    provider: row.provider,
    kind: row.kind,
    batchId: row.batch_id,
    evalId: row.eval_id,
    status: row.status,
    providerStatus: row.provider_status,
    requestCounts: row.request_counts,
    progress: row.progress,
    outcome: row.outcome,
    settleReason: row.settle_reason,
    settledBy: row.settled_by,
    trackedAt: iso(row.tracked_at)!,
    settledAt: iso(row.settled_at),
    providerCreatedAt: iso(row.provider_created_at),
    providerEndedAt: iso(row.provider_ended_at),
    expiresAt: iso(row.expires_at),
    pollCount: row.poll_count,
    lastPolledAt: iso(row.last_polled_at),
    nextPollAt: iso(row.next_poll_at),
    updatedAt: iso(row.updated_at)!,
    eta: row.settled_at ? null : etaView(row),
    results: row.results ?? null,
  };
}

/** The ETA of an unsettled job, as of now, from the observations its watcher keeps. */
function etaView(row: JobRow): EtaView | null {
  const eta = estimateCompletion({
    trackedAt: new Date(row.tracked_at).getTime(),
    now: now(),
    ...(row.provider_created_at ? { createdAt: new Date(row.provider_created_at).getTime() } : {}),
    ...(row.expires_at ? { expiresAt: new Date(row.expires_at).getTime() } : {}),
    observations: Array.isArray(row.observations) ? row.observations : [],
  });
  if (eta === null) return null;
  const at = (ms: number) => new Date(ms).toISOString();
  return eta.state === "estimated"
    ? { ...eta, expectedAt: at(eta.expectedAt), earliestAt: at(eta.earliestAt), latestAt: at(eta.latestAt) }
    : { ...eta, latestAt: eta.latestAt === null ? null : at(eta.latestAt) };
}


export function subscriptionViewFromRow(
  row: SubscriptionRow & { endpoint_name?: string | null; endpoint_events?: string[] | null },
): SubscriptionView {
  return {
    id: row.id,
    jobId: row.job_id,
    destination:
      row.endpoint_id !== null
        ? { type: "endpoint", endpointId: row.endpoint_id, endpointName: row.endpoint_name ?? null }
        : { type: "url", url: row.webhook_url ?? "" },
    metadata: row.metadata ?? {},
    disabledAt: iso(row.disabled_at),
    disabledReason: row.disabled_reason,
    createdAt: iso(row.created_at)!,
    events: effectiveEvents({ events: row.events, endpointEvents: row.endpoint_events, group: row.group_key }),
    eventsFrom: row.events ? "subscription" : row.endpoint_events ? "endpoint" : "default",
    group: row.group_key ?? null,
  };
}

/** Subscription columns joined with their endpoint's name (`s` = subscriptions, `e` = endpoints). */
export const SUBSCRIPTION_SELECT = `SELECT s.*, e.name AS endpoint_name, e.events AS endpoint_events
  FROM subscriptions s LEFT JOIN endpoints e ON e.id = s.endpoint_id`;

/** The `deliveries` columns behind a {@link DeliverySummary}. */
export interface DeliverySummaryRow {
  id: string;
  event_type: string;
  status: string;
  attempt_count: number;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Timestamp;
  delivered_at: Timestamp;
  failed_at: Timestamp;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  closed_reason: string | null;
}

/** The `deliveries` columns behind a {@link DeliverySummary}, for a SELECT list (alias `d` when given). */
export function deliverySummaryColumns(alias?: string): string {
  const columns = ["id", "event_type", "status", "attempt_count", "last_status_code", "last_error", "last_attempt_at",
    "delivered_at", "failed_at", "created_at", "next_attempt_at", "closed_reason"];
  return columns.map((column) => (alias ? `${alias}.${column}` : column)).join(", ");
}

interface DeliveryRow extends DeliverySummaryRow {
  job_id: string | null;
  subscription_id: string | null;
  endpoint_id: string | null;
}

export function deliverySummaryFromRow(row: DeliverySummaryRow): DeliverySummary {
  return {
    id: row.id,
    eventType: row.event_type,
    status: row.status,
    attemptCount: row.attempt_count,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    lastAttemptAt: iso(row.last_attempt_at),
    deliveredAt: iso(row.delivered_at),
    failedAt: iso(row.failed_at),
    createdAt: iso(row.created_at)!,
    nextAttemptAt: iso(row.next_attempt_at),
    closedReason: row.closed_reason,
  };
}

interface AttemptRow {
  delivery_id: string;
  run_id: string;
  attempt: number;
  attempted_at: Timestamp;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_body: string | null;
}

// ---------------------------------------------------------------------------------------------
// Listing with keyset pagination
// ---------------------------------------------------------------------------------------------

export interface ListJobsQuery {
  status?: UnifiedStatus;
  provider?: ProviderName;
  limit: number;
  cursor?: string;
}

export interface JobPage {
  jobs: JobView[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Newest first, on (tracked_at desc, id desc): unfiltered from the jobs_tracked_at index, filtered
 * from the index that leads with the filter's columns (jobs_status_…, jobs_provider_…,
 * jobs_provider_status_tracked_at), so a rare status or a deep cursor reads one page, not the table.
 */
export async function listJobs(db: Queryable, query: ListJobsQuery): Promise<JobPage> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.status) {
    params.push(query.status);
    conditions.push(`status = $${params.length}`);
  }
  if (query.provider) {
    params.push(query.provider);
    conditions.push(`provider = $${params.length}`);
  }
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor, UUID);
    params.push(cursor.at, cursor.id);
    conditions.push(`(tracked_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
  const rows = await db.query<JobRow & { tracked_at_text: string }>(
    `SELECT *, tracked_at::text AS tracked_at_text FROM jobs ${where}
     ORDER BY tracked_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    jobs: page.map(jobViewFromRow),
    nextCursor: rows.length > query.limit && last ? encodeCursor({ at: last.tracked_at_text, id: last.id }) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// One job
// ---------------------------------------------------------------------------------------------

/**
 * The job tracked for this provider's id. Ids do not repeat across kinds in practice (OpenAI
 * prefixes them: batch_, resp_, ftjob_, evalrun_), so `kind` is only needed to disambiguate;
 * without it a batch is preferred.
 */
export async function findTrackedJob(
  db: Queryable,
  provider: ProviderName,
  batchId: string,
  kind?: JobKind,
): Promise<JobView | null> {
  // Every kind named, so the lookup stays on the unique (provider, kind, batch_id) index: a probe per kind.
  const rows = await db.query<JobRow>(
    `SELECT * FROM jobs
     WHERE provider = $1 AND kind = ANY($3::text[]) AND batch_id = $2
     ORDER BY (kind = 'batch') DESC, tracked_at DESC LIMIT 1`,
    [provider, canonicalBatchId(provider, batchId), kind ? [kind] : JOB_KINDS],
  );
  return rows[0] ? jobViewFromRow(rows[0]) : null;
}

/** Like {@link findTrackedJob}, but a job that is not tracked is a `not_found`. */
export async function requireTrackedJob(
  db: Queryable,
  provider: ProviderName,
  batchId: string,
  kind?: JobKind,
): Promise<JobView> {
  const job = await findTrackedJob(db, provider, batchId, kind);
  if (!job) throw new AppError("not_found", `no ${provider} job "${batchId}" is tracked`);
  return job;
}

const MAX_EVENTS = 200;

/** Everything the detail page shows: the job, who is subscribed, what was delivered and how. */
export async function getJobDetail(
  db: Queryable,
  provider: ProviderName,
  batchId: string,
  kind?: JobKind,
): Promise<JobDetail> {
  const job = await requireTrackedJob(db, provider, batchId, kind);
  const [subscriptions, deliveries, attempts, events] = await Promise.all([
    db.query<SubscriptionRow & { endpoint_name: string | null }>(`${SUBSCRIPTION_SELECT} WHERE s.job_id = $1 ORDER BY s.created_at, s.id`, [job.id]),
    db.query<DeliveryRow>(
      `SELECT ${deliverySummaryColumns()}, job_id, subscription_id, endpoint_id
       FROM deliveries WHERE job_id = $1 ORDER BY created_at, id`,
      [job.id],
    ),
    db.query<AttemptRow>(
      `SELECT a.delivery_id, a.run_id, a.attempt, a.attempted_at, a.status_code, a.duration_ms, a.error, a.response_body
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE d.job_id = $1 ORDER BY a.attempted_at, a.attempt`,
      [job.id],
    ),
    db.query<{ at: Timestamp; type: string; detail: Record<string, unknown> }>(
      `SELECT at, type, detail FROM (
         SELECT id, at, type, detail FROM job_events WHERE job_id = $1 ORDER BY id DESC LIMIT ${MAX_EVENTS}
       ) recent ORDER BY id`,
      [job.id],
    ),
  ]);

  const attemptsByDelivery = new Map<string, DeliveryAttemptView[]>();
  for (const row of attempts) {
    const list = attemptsByDelivery.get(row.delivery_id) ?? [];
    list.push({
      runId: row.run_id,
      attempt: row.attempt,
      attemptedAt: iso(row.attempted_at)!,
      statusCode: row.status_code,
      durationMs: row.duration_ms,
      error: row.error,
      responseBody: row.response_body,
    });
    attemptsByDelivery.set(row.delivery_id, list);
  }

  return {
    job,
    subscriptions: subscriptions.map(subscriptionViewFromRow),
    deliveries: deliveries.map((row) => ({
      ...deliverySummaryFromRow(row),
      jobId: row.job_id,
      subscriptionId: row.subscription_id,
      endpointId: row.endpoint_id,
      attempts: attemptsByDelivery.get(row.id) ?? [],
    })),
    events: events.map((row) => ({ at: iso(row.at)!, type: row.type, detail: row.detail ?? {} })),
  };
}
