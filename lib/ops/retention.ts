import type { Queryable } from "@/lib/db";
import { nowDate } from "@/lib/clock";

/**
 * Deletes what is only history once it is older than the retention period
 * (BATCHWATCH_RETENTION_DAYS, default 30): verified inbound provider events, delivery attempts,
 * settled jobs (their timeline, subscriptions and deliveries go with them by ON DELETE CASCADE),
 * endpoint test deliveries, and outbox entries already sent. Unsettled jobs are never touched,
 * however old: they are still being watched.
 */
export interface PruneResult {
  cutoff: string;
  inboundEvents: number;
  deliveryAttempts: number;
  jobs: number;
  testDeliveries: number;
  sentOutboxEvents: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export async function deleteExpiredHistory(db: Queryable, { olderThanDays }: { olderThanDays: number }): Promise<PruneResult> {
  if (!Number.isFinite(olderThanDays) || olderThanDays <= 0) {
    throw new RangeError("olderThanDays must be a positive number");
  }
  const cutoff = new Date(nowDate().getTime() - olderThanDays * DAY_MS);
  const count = async (sql: string) => (await db.query<{ n: number }>(`WITH gone AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM gone`, [cutoff]))[0]!.n;

  return {
    cutoff: cutoff.toISOString(),
    inboundEvents: await count("DELETE FROM inbound_events WHERE received_at < $1"),
    deliveryAttempts: await count("DELETE FROM delivery_attempts WHERE attempted_at < $1"),
    // A settled job stays while any of its deliveries is still in flight or recent (a late
    // subscriber, a resend): deleting it would cascade to a delivery mid-retry.
    jobs: await count(
      `DELETE FROM jobs WHERE settled_at IS NOT NULL AND settled_at < $1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = jobs.id AND (d.status = 'pending' OR d.created_at >= $1))`,
    ),
    testDeliveries: await count("DELETE FROM deliveries WHERE job_id IS NULL AND created_at < $1"),
    sentOutboxEvents: await count("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1"),
  };
}
