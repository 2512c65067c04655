import type { Queryable } from "@/lib/db";
import { now } from "@/lib/clock";

/**
 * Deletes what is only history once it is older than the retention period
 * (BATCHWATCH_RETENTION_DAYS, default 30): verified inbound provider events, delivery attempts,
 * settled jobs (their timeline, subscriptions and deliveries go with them by ON DELETE CASCADE),
 * job groups none of whose batches is left, endpoint test deliveries, and outbox entries already
 * sent. Unsettled jobs are never touched, however old: they are still being watched.
 *
 * In bounded batches: each statement deletes at most {@link RETENTION_BATCH_ROWS} rows (settled
 * jobs {@link RETENTION_BATCH_JOBS} at a time, as each takes its timeline and deliveries along),
 * found through an index, so no statement holds its locks long and a prune that missed a week
 * catches up in more statements, not longer ones. With `budgetMs` it stops starting statements
 * once that much time has passed and says whether it is `done`; the caller runs it again.
 */
export interface PruneResult {
  cutoff: string;
  inboundEvents: number;
  deliveryAttempts: number;
  jobs: number;
  groups: number;
  testDeliveries: number;
  sentOutboxEvents: number;
  /** DELETE statements run. */
  statements: number;
  /** False when the budget ran out first: call again (with the same cutoff) to finish. */
  done: boolean;
}

export const RETENTION_BATCH_ROWS = 5_000;
/** A settled job's deletion cascades to some 15 rows (timeline, subscriptions, deliveries, attempts). */
export const RETENTION_BATCH_JOBS = 250;

const DAY_MS = 24 * 60 * 60 * 1000;

type Table = Exclude<keyof PruneResult, "cutoff" | "statements" | "done">;

/**
 * Each table's batch: `pick` selects the ctids of at most `$2` rows older than the cutoff `$1`,
 * oldest first along the index that serves it; the DELETE takes exactly those (a TID scan).
 */
const BATCHES: readonly { table: Table; name: string; size: number; pick: string }[] = [
  {
    table: "inboundEvents",
    name: "inbound_events",
    size: RETENTION_BATCH_ROWS,
    pick: "SELECT ctid FROM inbound_events WHERE received_at < $1 ORDER BY received_at LIMIT $2",
  },
  {
    table: "deliveryAttempts",
    name: "delivery_attempts",
    size: RETENTION_BATCH_ROWS,
    pick: "SELECT ctid FROM delivery_attempts WHERE attempted_at < $1 ORDER BY attempted_at LIMIT $2",
  },
  // A settled job stays while any of its deliveries is still in flight or recent (a late
  // subscriber, a resend): deleting it would cascade to a delivery mid-retry.
  {
    table: "jobs",
    name: "jobs",
    size: RETENTION_BATCH_JOBS,
    pick: `SELECT ctid FROM jobs WHERE settled_at < $1
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND (d.status = 'pending' OR d.created_at >= $1))
           ORDER BY settled_at LIMIT $2`,
  },
  // After the jobs: a group goes once none of its batches is left (a group is only its batches'
  // subscriptions and a row of when it settled). Tracking into it meanwhile upserts the row, so it
  // is back, or kept: lib/settle/groups.ts.
  {
    table: "groups",
    name: "job_groups",
    size: RETENTION_BATCH_ROWS,
    pick: `SELECT ctid FROM job_groups g WHERE COALESCE(g.settled_at, g.created_at) < $1
             AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.group_key = g.key) LIMIT $2`,
  },
  {
    table: "testDeliveries",
    name: "deliveries",
    size: RETENTION_BATCH_ROWS,
    pick: "SELECT ctid FROM deliveries WHERE job_id IS NULL AND created_at < $1 LIMIT $2",
  },
  {
    table: "sentOutboxEvents",
    name: "outbox",
    size: RETENTION_BATCH_ROWS,
    pick: "SELECT ctid FROM outbox WHERE sent_at < $1 ORDER BY sent_at LIMIT $2",
  },
];

export async function deleteExpiredHistory(
  db: Queryable,
  { olderThanDays, budgetMs = Number.POSITIVE_INFINITY, cutoff: givenCutoff }: { olderThanDays: number; budgetMs?: number; cutoff?: string },
): Promise<PruneResult> {
  if (!Number.isFinite(olderThanDays) || olderThanDays <= 0) {
    throw new RangeError("olderThanDays must be a positive number");
  }
  const started = performance.now();
  const cutoff = givenCutoff ? new Date(givenCutoff) : new Date(now() - olderThanDays * DAY_MS);
  const result: PruneResult = {
    cutoff: cutoff.toISOString(),
    inboundEvents: 0,
    deliveryAttempts: 0,
    jobs: 0,
    groups: 0,
    testDeliveries: 0,
    sentOutboxEvents: 0,
    statements: 0,
    done: true,
  };
  for (const batch of BATCHES) {
    for (;;) {
      if (performance.now() - started >= budgetMs) return { ...result, done: false };
      const [row] = await db.query<{ n: number }>(
        `WITH gone AS (DELETE FROM ${batch.name} WHERE ctid = ANY(ARRAY(${batch.pick})) RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [cutoff, batch.size],
      );
      result.statements += 1;
      result[batch.table] += row!.n;
      if (row!.n < batch.size) break;
    }
  }
  return result;
}
