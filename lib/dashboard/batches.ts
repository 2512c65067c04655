import "server-only";
import { isStorableText, storableString } from "@/lib/storable";
import { z } from "zod";
import type { Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { getJobDetail, jobViewFromRow, listJobs, type JobDetail, type JobView } from "@/lib/jobs/queries";
import type { JobRow } from "@/lib/jobs/store";
import { JOB_KINDS, PROVIDER_NAMES, UNIFIED_STATUSES, type JobKind, type ProviderName } from "@/lib/providers/types";

/**
 * The data of the batches pages. The list and the detail come from the API's read side
 * (lib/jobs/queries.ts); this adds only what the dashboard shows on top of it: a batch id search,
 * subscriber counts, how many batches are still running, and each delivery's payload.
 */

export const BATCHES_PER_PAGE = 25;
/** A search is not paginated: it lists this many matches and asks for a longer search string. */
export const SEARCH_RESULT_LIMIT = 50;
/** The page says "1000+ running" beyond this: the count reads the unsettled jobs' index, bounded. */
export const RUNNING_COUNT_CAP = 1000;

const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);
const firstValue = (value: unknown) => (Array.isArray(value) ? value[0] : value);
const param = <T extends z.ZodType>(schema: T) => z.preprocess((value) => emptyAsUndefined(firstValue(value)), schema);

const batchFiltersSchema = z.object({
  status: param(z.enum(UNIFIED_STATUSES).optional()).catch(undefined),
  provider: param(z.enum(PROVIDER_NAMES).optional()).catch(undefined),
  q: param(storableString().trim().max(512).optional()).catch(undefined),
  cursor: param(storableString().max(512).optional()).catch(undefined),
});

export type BatchFilters = z.infer<typeof batchFiltersSchema>;

/** The filters of `/batches?status=&provider=&q=&cursor=`; unknown values are ignored, never an error page. */
export function parseBatchFilters(searchParams: Record<string, string | string[] | undefined>): BatchFilters {
  const filters = batchFiltersSchema.parse(searchParams);
  return { ...filters, q: filters.q === "" ? undefined : filters.q };
}

export interface BatchListItem extends JobView {
  subscriberCount: number;
  /** Its deliveries by state: a batch whose webhook failed looks fine by its own status alone. */
  deliveries: DeliveryCounts;
}

export interface DeliveryCounts {
  delivered: number;
  failed: number;
  pending: number;
}

export interface BatchList {
  batches: BatchListItem[];
  nextCursor: string | null;
  /** True when a search found more than {@link SEARCH_RESULT_LIMIT} matches. */
  searchTruncated: boolean;
  /**
   * Unsettled jobs across all filters, counted up to {@link RUNNING_COUNT_CAP}: the page refreshes
   * itself while this is above 0.
   */
  running: number;
  /** True when more than {@link RUNNING_COUNT_CAP} jobs are running (`running` is then the cap). */
  runningMore: boolean;
  /** Whether any job is tracked at all (the empty state differs from "no match"). */
  anyTracked: boolean;
  /** A user-facing problem with the query (a stale cursor), shown above the table. */
  problem: string | null;
}

export async function loadBatchList(db: Queryable, filters: BatchFilters): Promise<BatchList> {
  let jobs: JobView[] = [];
  let nextCursor: string | null = null;
  let searchTruncated = false;
  let problem: string | null = null;

  if (filters.q) {
    const found = await searchJobsByBatchId(db, filters.q, filters);
    jobs = found.jobs;
    searchTruncated = found.truncated;
  } else {
    try {
      const page = await listJobs(db, {
        status: filters.status,
        provider: filters.provider,
        cursor: filters.cursor,
        limit: BATCHES_PER_PAGE,
      });
      jobs = page.jobs;
      nextCursor = page.nextCursor;
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== "invalid_request") throw error;
      problem = "That page link is no longer valid; showing the first page.";
      const page = await listJobs(db, { status: filters.status, provider: filters.provider, limit: BATCHES_PER_PAGE });
      jobs = page.jobs;
      nextCursor = page.nextCursor;
    }
  }

  const [counts, deliveryCounts, [summary]] = await Promise.all([
    subscriberCounts(db, jobs.map((job) => job.id)),
    deliveryCountsByJob(db, jobs.map((job) => job.id)),
    // Both bounded: the unsettled jobs' partial index up to the cap, and one row for "any at all".
    db.query<{ running: number; any_tracked: boolean }>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE settled_at IS NULL LIMIT $1) capped)::int AS running,
              EXISTS (SELECT 1 FROM jobs) AS any_tracked`,
      [RUNNING_COUNT_CAP + 1],
    ),
  ]);
  const running = summary?.running ?? 0;
  return {
    batches: jobs.map((job) => ({
      ...job,
      subscriberCount: counts.get(job.id) ?? 0,
      deliveries: deliveryCounts.get(job.id) ?? { delivered: 0, failed: 0, pending: 0 },
    })),
    nextCursor,
    searchTruncated,
    running: Math.min(running, RUNNING_COUNT_CAP),
    runningMore: running > RUNNING_COUNT_CAP,
    anyTracked: summary?.any_tracked ?? false,
    problem,
  };
}

/**
 * Jobs whose batch id contains `text` (case-insensitive), newest first, within the other filters.
 * A complete batch id is looked up first on the unique (provider, kind, batch_id) index and, when
 * tracked, is the answer; anything else is a substring search, which the trigram index
 * (jobs_batch_id_trgm, where pg_trgm is available) serves.
 */
export async function searchJobsByBatchId(
  db: Queryable,
  text: string,
  filters: { status?: string; provider?: string } = {},
): Promise<{ jobs: JobView[]; truncated: boolean }> {
  const status = filters.status ?? null;
  const exact = await db.query<JobRow>(
    `SELECT * FROM jobs
     WHERE provider = ANY($1::text[]) AND kind = ANY($2::text[]) AND batch_id = $3 AND ($4::text IS NULL OR status = $4)
     ORDER BY tracked_at DESC, id DESC LIMIT $5`,
    [filters.provider ? [filters.provider] : PROVIDER_NAMES, JOB_KINDS, text, status, SEARCH_RESULT_LIMIT + 1],
  );
  const pattern = `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
  const rows =
    exact.length > 0
      ? exact
      : await db.query<JobRow>(
          `SELECT * FROM jobs
           WHERE batch_id ILIKE $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR provider = $3)
           ORDER BY tracked_at DESC, id DESC LIMIT $4`,
          [pattern, status, filters.provider ?? null, SEARCH_RESULT_LIMIT + 1],
        );
  return { jobs: rows.slice(0, SEARCH_RESULT_LIMIT).map(jobViewFromRow), truncated: rows.length > SEARCH_RESULT_LIMIT };
}

/** Active subscriptions per job (an untracked subscription no longer receives anything). */
async function subscriberCounts(db: Queryable, jobIds: string[]): Promise<Map<string, number>> {
  if (jobIds.length === 0) return new Map();
  const rows = await db.query<{ job_id: string; count: number }>(
    `SELECT job_id, count(*)::int AS count FROM subscriptions
     WHERE job_id = ANY($1::uuid[]) AND disabled_at IS NULL GROUP BY job_id`,
    [jobIds],
  );
  return new Map(rows.map((row) => [row.job_id, row.count]));
}

async function deliveryCountsByJob(db: Queryable, jobIds: string[]): Promise<Map<string, DeliveryCounts>> {
  if (jobIds.length === 0) return new Map();
  const rows = await db.query<{ job_id: string } & DeliveryCounts>(
    `SELECT job_id, count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'pending')::int AS pending
     FROM deliveries WHERE job_id = ANY($1::uuid[]) GROUP BY job_id`,
    [jobIds],
  );
  return new Map(rows.map(({ job_id, ...counts }) => [job_id, counts]));
}

// ---------------------------------------------------------------------------------------------
// One batch
// ---------------------------------------------------------------------------------------------

export interface BatchPage extends JobDetail {
  /** Per-kind detail (fine-tuned model, usage, error) for non-batch kinds; null for batches. */
  kindDetail: Record<string, unknown> | null;
  /** The unified event as it was sent, per delivery id (it holds no secrets). */
  payloads: Record<string, unknown>;
  /** Endpoint names per endpoint id, to label deliveries. */
  endpointNames: Record<string, string>;
  /** Ids of this job's endpoints that are disabled now (a resend to them can only fail). */
  disabledEndpointIds: string[];
  /** Active subscriptions. */
  subscriberCount: number;
}

export function parseKind(value: unknown): JobKind | undefined {
  const parsed = z.enum(JOB_KINDS).safeParse(firstValue(value));
  return parsed.success ? parsed.data : undefined;
}

/** Everything the batch page shows, or null when this job is not tracked. */
export async function loadBatchPage(
  db: Queryable,
  provider: string,
  batchId: string,
  kind?: JobKind,
): Promise<BatchPage | null> {
  if (!(PROVIDER_NAMES as readonly string[]).includes(provider) || !isStorableText(batchId)) return null;
  let detail: JobDetail;
  try {
    detail = await getJobDetail(db, provider as ProviderName, batchId, kind);
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return null;
    throw error;
  }
  const [extra, payloadRows, endpointRows] = await Promise.all([
    db.query<{ detail: Record<string, unknown> | null }>("SELECT detail FROM jobs WHERE id = $1", [detail.job.id]),
    db.query<{ id: string; payload: Record<string, unknown> }>("SELECT id, payload FROM deliveries WHERE job_id = $1", [
      detail.job.id,
    ]),
    db.query<{ id: string; name: string; disabled: boolean }>(
      `SELECT DISTINCT e.id, e.name, e.disabled_at IS NOT NULL AS disabled FROM endpoints e
       JOIN subscriptions s ON s.endpoint_id = e.id WHERE s.job_id = $1`,
      [detail.job.id],
    ),
  ]);
  return {
    ...detail,
    kindDetail: detail.job.kind === "batch" ? null : (extra[0]?.detail ?? null),
    payloads: Object.fromEntries(payloadRows.map((row) => [row.id, row.payload])),
    endpointNames: Object.fromEntries(endpointRows.map((row) => [row.id, row.name])),
    disabledEndpointIds: endpointRows.filter((row) => row.disabled).map((row) => row.id),
    subscriberCount: detail.subscriptions.filter((subscription) => subscription.disabledAt === null).length,
  };
}
