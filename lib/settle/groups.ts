import type { Queryable } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { effectiveEventsSql } from "@/lib/deliver/event-filter";
import { insertNoticeDelivery } from "@/lib/deliver/create-deliveries";
import { OUTCOMES, type GroupSettledEvent, type Outcome } from "@/lib/deliver/unified-event";
import type { OutgoingEvent } from "@/lib/events/definitions";
import { enqueueEvents } from "@/lib/events/outbox";
import { iso, type JobRow } from "@/lib/jobs/store";

/**
 * Job groups. A subscription tracked with a `group` key puts its batch into that group; when every
 * batch of the group has settled, each of the group's subscribers whose filter takes it (by
 * default, every subscriber that gave the key) receives one `group.settled` with each batch's
 * outcome and counts and the group's totals.
 *
 * Exactly once, whatever the order in which the batches settle: the check runs inside each
 * settlement's transaction after taking the group's row lock (`SELECT … FOR UPDATE` on
 * `job_groups`), so of two batches settling at once the second to get the lock sees the first
 * committed; `settled_at IS NULL` under that lock makes the group settle once, and the delivery's
 * unique index (subscription, topic `group:<key>:<n>`) makes its fan-out idempotent.
 *
 * A batch that joins a group after the group settled reopens it: when that batch has settled too
 * (at once, if it already had), the group settles again as settlement n + 1 — a new
 * `group.settled` with a new `webhook-id`, listing every batch, the new one included. Tracking a
 * batch into a group it is already in changes nothing. Locks are taken job row first, then group
 * rows in key order, on every path, so tracking and settling never deadlock.
 */

/** The most batches a group.settled lists; the totals always count every batch. */
export const MAX_GROUP_BATCHES_LISTED = 1_000;

/** Joins a subscription's batch to its group (inside the tracking transaction); reopens a settled group. */
export async function joinGroup(
  tx: Queryable,
  key: string,
  options: { newMember: boolean },
): Promise<OutgoingEvent[]> {
  const at = nowDate();
  // An upsert writes a new version of the row it finds, under its lock: retention deleting the row
  // at this moment (a group whose batches were all pruned) either went first, and this inserts it
  // again, or finds the row changed and keeps it.
  const [group] = await tx.query<{ settled_at: Date | null }>(
    `INSERT INTO job_groups (key, created_at) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING settled_at`,
    [key, at],
  );
  if (options.newMember && group?.settled_at) {
    await tx.query("UPDATE job_groups SET settled_at = NULL WHERE key = $1", [key]);
  }
  return settleGroupIfDone(tx, key, { locked: true });
}

/** After a job settled (inside the settlement's transaction): settles each of its groups whose batches have all settled. */
export async function settleGroupsOf(tx: Queryable, jobId: string): Promise<OutgoingEvent[]> {
  const keys = await tx.query<{ group_key: string }>(
    "SELECT DISTINCT group_key FROM subscriptions WHERE job_id = $1 AND group_key IS NOT NULL ORDER BY group_key",
    [jobId],
  );
  const events: OutgoingEvent[] = [];
  for (const { group_key } of keys) events.push(...(await settleGroupIfDone(tx, group_key, { locked: false })));
  return events;
}

async function settleGroupIfDone(tx: Queryable, key: string, { locked }: { locked: boolean }): Promise<OutgoingEvent[]> {
  if (!locked) await tx.query("SELECT 1 FROM job_groups WHERE key = $1 FOR UPDATE", [key]);
  // A fresh statement after the lock: it sees every settlement committed before the lock was granted.
  const members = await tx.query<JobRow>(
    `SELECT * FROM jobs WHERE id IN (SELECT job_id FROM subscriptions WHERE group_key = $1)
     ORDER BY tracked_at, provider, batch_id, kind`,
    [key],
  );
  if (members.length === 0 || members.some((job) => job.settled_at === null)) return [];
  const at = nowDate();
  const [settled] = await tx.query<{ settlements: number }>(
    `UPDATE job_groups SET settled_at = $2, settlements = settlements + 1
     WHERE key = $1 AND settled_at IS NULL RETURNING settlements`,
    [key, at],
  );
  if (!settled) return [];

  const subscribers = await tx.query<{ id: string; endpoint_id: string | null; metadata: Record<string, unknown> }>(
    `SELECT DISTINCT ON (s.destination_key) s.id, s.endpoint_id, s.metadata FROM subscriptions s
     WHERE s.group_key = $1 AND s.disabled_at IS NULL AND 'group.settled' = ANY(${effectiveEventsSql()})
     ORDER BY s.destination_key, s.created_at, s.id`,
    [key],
  );
  const topic = `group:${key}:${settled.settlements}`;
  const events: OutgoingEvent[] = [];
  for (const subscriber of subscribers) {
    const event = await insertNoticeDelivery(tx, {
      jobId: null,
      subscriptionId: subscriber.id,
      endpointId: subscriber.endpoint_id,
      type: "group.settled",
      topic,
      payload: groupSettledEvent(key, settled.settlements, at, members, subscriber.metadata),
    });
    if (event) events.push(event);
  }
  await enqueueEvents(tx, events);
  return events;
}

/** The body of a group.settled delivery. */
export function groupSettledEvent(
  key: string,
  settlement: number,
  at: Date,
  members: JobRow[],
  metadata: Record<string, unknown>,
): GroupSettledEvent {
  const outcomes = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<Outcome, number>;
  let requests: { total: number; completed: number; failed: number } | null = null;
  for (const job of members) {
    outcomes[job.outcome!] += 1;
    if (job.request_counts) {
      requests ??= { total: 0, completed: 0, failed: 0 };
      requests.total += job.request_counts.total;
      requests.completed += job.request_counts.completed;
      requests.failed += job.request_counts.failed;
    }
  }
  return {
    type: "group.settled",
    group: key,
    settlement,
    settledAt: at.toISOString(),
    totals: { batches: members.length, outcomes, requests },
    batches: members.slice(0, MAX_GROUP_BATCHES_LISTED).map((job) => ({
      id: job.batch_id,
      provider: job.provider,
      kind: job.kind,
      outcome: job.outcome!,
      reason: job.settle_reason,
      requestCounts: job.request_counts,
      ...(job.results ? { results: job.results } : {}),
      endedAt: iso(job.provider_ended_at) ?? iso(job.settled_at),
    })),
    metadata,
  };
}
