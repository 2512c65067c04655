import "server-only";
import type { Queryable } from "@/lib/db";

/**
 * Signs that the durable engine (Inngest) is not running the work batchwatch hands it: polls past
 * their due time, events written to the outbox but never sent, delivery attempts past their due
 * time. Each alone can be a blip; past {@link ENGINE_STALL_GRACE_MS} they are worth a warning that
 * says what to check. Nothing here is lost: the outbox is sent once Inngest is reachable again.
 */

/** How late work may be before the dashboard calls it stalled (a poll step or a send in progress). */
export const ENGINE_STALL_GRACE_MS = 2 * 60_000;

export interface EngineHealth {
  overduePolls: { count: number; oldestDueAt: string | null };
  unsentEvents: { count: number; oldestAt: string | null };
  overdueDeliveries: { count: number; oldestDueAt: string | null };
  stalled: boolean;
}

export async function loadEngineHealth(db: Queryable, now: number): Promise<EngineHealth> {
  const before = new Date(now - ENGINE_STALL_GRACE_MS);
  const [[polls], [events], [deliveries]] = await Promise.all([
    db.query<{ count: number; oldest: Date | null }>(
      "SELECT count(*)::int AS count, min(next_poll_at) AS oldest FROM jobs WHERE settled_at IS NULL AND next_poll_at < $1",
      [before],
    ),
    db.query<{ count: number; oldest: Date | null }>(
      "SELECT count(*)::int AS count, min(created_at) AS oldest FROM outbox WHERE sent_at IS NULL AND created_at < $1",
      [before],
    ),
    db.query<{ count: number; oldest: Date | null }>(
      "SELECT count(*)::int AS count, min(next_attempt_at) AS oldest FROM deliveries WHERE status = 'pending' AND next_attempt_at < $1",
      [before],
    ),
  ]);
  const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);
  const health = {
    overduePolls: { count: polls?.count ?? 0, oldestDueAt: iso(polls?.oldest) },
    unsentEvents: { count: events?.count ?? 0, oldestAt: iso(events?.oldest) },
    overdueDeliveries: { count: deliveries?.count ?? 0, oldestDueAt: iso(deliveries?.oldest) },
  };
  return { ...health, stalled: health.overduePolls.count + health.unsentEvents.count + health.overdueDeliveries.count > 0 };
}
