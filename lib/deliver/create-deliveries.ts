import { randomBytes } from "node:crypto";
import type { Database, Queryable } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { deliveryRequestedEvent, type OutgoingEvent } from "@/lib/events/definitions";
import { enqueueEvents, type EventSender, flushOutbox } from "@/lib/events/outbox";
import { getJob, iso, type JobRow, type SubscriptionRow } from "@/lib/jobs/store";
import type { RequestCounts } from "@/lib/providers/types";
import { effectiveEventsSql } from "./event-filter";
import type { StallNotice } from "@/lib/watch/stall";
import {
  type BatchResumedEvent,
  type BatchStalledEvent,
  eventTypeFor,
  eventTypeSql,
  type NoticeEventType,
  type UnifiedWebhookEvent,
} from "./unified-event";

export type DeliveryCause = "settled" | "subscribed_after_settlement";

/** Standard Webhooks message ids: `msg_` and 24 random bytes, the same for every attempt of a delivery. */
export function newDeliveryId(): string {
  return `msg_${randomBytes(18).toString("base64url")}`;
}

/**
 * Creates the one delivery of a settled job's outcome for every active subscription whose event
 * filter takes it and that has none yet (the unique index makes this idempotent), with the outbox
 * entries that send them.
 */
export async function createDeliveriesFor(
  tx: Queryable,
  job: JobRow,
  cause: DeliveryCause,
): Promise<{ deliveryIds: string[]; eventIds: string[] }> {
  const type = eventTypeFor(job.kind, job.outcome!, job.provider_status);
  const candidates = await tx.query<SubscriptionRow & { effective_events: string[] }>(
    `SELECT s.*, ${effectiveEventsSql()} AS effective_events FROM subscriptions s
     WHERE s.job_id = $1 AND s.disabled_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.topic IS NULL)
     ORDER BY s.created_at`,
    [job.id],
  );
  const subscriptions = candidates.filter((subscription) => subscription.effective_events.includes(type));
  const deliveryIds: string[] = [];
  const events: OutgoingEvent[] = [];
  for (const subscription of subscriptions) {
    const payload = unifiedEventFor(job, subscription.metadata);
    const [row] = await tx.query<{ id: string }>(
      `INSERT INTO deliveries (id, job_id, subscription_id, endpoint_id, event_type, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (subscription_id) WHERE subscription_id IS NOT NULL AND topic IS NULL DO NOTHING
       RETURNING id`,
      [newDeliveryId(), job.id, subscription.id, subscription.endpoint_id, payload.type, JSON.stringify(payload), nowDate()],
    );
    if (!row) continue;
    deliveryIds.push(row.id);
    events.push(deliveryRequestedEvent(row.id, cause));
  }
  await enqueueEvents(tx, events);
  return { deliveryIds, eventIds: events.map((event) => event.id) };
}

/** The body every subscriber receives, with ISO-8601 times and the subscription's own metadata. */
export function unifiedEventFor(job: JobRow, metadata: Record<string, unknown>): UnifiedWebhookEvent {
  return {
    type: eventTypeFor(job.kind, job.outcome!, job.provider_status),
    id: job.batch_id,
    provider: job.provider,
    kind: job.kind,
    status: job.status,
    providerStatus: job.provider_status,
    reason: job.settle_reason,
    requestCounts: (job.request_counts as RequestCounts | null) ?? null,
    createdAt: iso(job.provider_created_at),
    endedAt: iso(job.provider_ended_at) ?? (job.settle_reason ? iso(job.settled_at) : null),
    metadata,
    // Batches carry `detail` only when the provider gave one (xAI's words for a batch it refused).
    ...(job.kind === "batch" && !job.detail ? {} : { detail: job.detail ?? null }),
    ...(job.results ? { results: job.results } : {}),
  };
}

/** How long the track-batch function gets to deliver to a late subscriber before the reconciler does. */
const LATE_SUBSCRIBER_GRACE_MS = 5 * 60_000;
/**
 * How far back the reconciler looks for late subscribers, by when each subscription became active
 * (created, or re-enabled by tracking again). The reconciler runs every 5 minutes, so a subscriber
 * is looked at some 70 times; bounding the window keeps each pass on the recent end of an index
 * instead of every subscription ever made. (This path is the backstop: the track-batch function,
 * whose event the outbox re-sends after an outage, delivers to late subscribers first.)
 */
export const LATE_SUBSCRIBER_LOOKBACK_MS = 6 * 3_600_000;

/**
 * The reconciler's half for late subscribers: an active subscription to a settled job that still
 * has no delivery although its filter takes the outcome (its track-batch run failed for good) gets
 * one now. Idempotent, like every path into {@link createDeliveriesFor}.
 */
export async function deliverToLateSubscribers(db: Database, send: EventSender): Promise<string[]> {
  const at = nowDate().getTime();
  // subscriptions_active_since serves the window; each candidate costs one probe for a delivery.
  const jobs = await db.query<{ id: string }>(
    `SELECT DISTINCT s.job_id AS id FROM subscriptions s JOIN jobs j ON j.id = s.job_id
     WHERE s.disabled_at IS NULL
       AND COALESCE(s.activated_at, s.created_at) >= $1 AND COALESCE(s.activated_at, s.created_at) < $2
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.topic IS NULL)
       AND j.settled_at IS NOT NULL
       AND ${eventTypeSql("j")} = ANY(${effectiveEventsSql()})
     LIMIT 200`,
    [new Date(at - LATE_SUBSCRIBER_LOOKBACK_MS), new Date(at - LATE_SUBSCRIBER_GRACE_MS)],
  );
  const created: string[] = [];
  for (const { id } of jobs) {
    const result = await db.transaction(async (tx) => {
      const job = await getJob(tx, id, { forUpdate: true });
      return job ? createDeliveriesFor(tx, job, "subscribed_after_settlement") : { deliveryIds: [], eventIds: [] };
    });
    await flushOutbox(db, result.eventIds, send);
    created.push(...result.deliveryIds);
  }
  return created;
}

/**
 * One notice delivery (batch.stalled, batch.resumed, group.settled) for a subscription: once per
 * subscription and topic (a unique index), so a repeated poll or settlement creates none twice.
 * Returns the event that sends it, or null when it existed already.
 */
export async function insertNoticeDelivery(
  tx: Queryable,
  notice: { jobId: string | null; subscriptionId: string; endpointId: string | null; type: NoticeEventType; topic: string; payload: unknown },
): Promise<OutgoingEvent | null> {
  const [row] = await tx.query<{ id: string }>(
    `INSERT INTO deliveries (id, job_id, subscription_id, endpoint_id, event_type, payload, created_at, topic)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (subscription_id, topic) WHERE subscription_id IS NOT NULL AND topic IS NOT NULL DO NOTHING
     RETURNING id`,
    [newDeliveryId(), notice.jobId, notice.subscriptionId, notice.endpointId, notice.type, JSON.stringify(notice.payload), nowDate(), notice.topic],
  );
  return row ? deliveryRequestedEvent(row.id, "notice") : null;
}

/** A job's stall notice to each of its active subscribers that opted into it, with the outbox entries. */
export async function createStallNotices(tx: Queryable, job: JobRow, notice: StallNotice): Promise<OutgoingEvent[]> {
  const subscriptions = await tx.query<SubscriptionRow>(
    `SELECT s.* FROM subscriptions s WHERE s.job_id = $1 AND s.disabled_at IS NULL AND $2 = ANY(${effectiveEventsSql()})
     ORDER BY s.created_at`,
    [job.id, notice.type],
  );
  const topic = `${notice.type === "batch.stalled" ? "stalled" : "resumed"}:${notice.stall.number}`;
  const events: OutgoingEvent[] = [];
  for (const subscription of subscriptions) {
    const event = await insertNoticeDelivery(tx, {
      jobId: job.id,
      subscriptionId: subscription.id,
      endpointId: subscription.endpoint_id,
      type: notice.type,
      topic,
      payload: stallNoticeEvent(job, notice, subscription.metadata),
    });
    if (event) events.push(event);
  }
  await enqueueEvents(tx, events);
  return events;
}

/** The body of a batch.stalled / batch.resumed delivery. */
export function stallNoticeEvent(job: JobRow, notice: StallNotice, metadata: Record<string, unknown>): BatchStalledEvent | BatchResumedEvent {
  const { stall } = notice;
  const base = {
    id: job.batch_id,
    provider: job.provider,
    kind: job.kind,
    status: job.status,
    providerStatus: job.provider_status,
  };
  const view = { kind: stall.kind, since: new Date(stall.since).toISOString(), number: stall.number };
  const requestCounts = (job.request_counts as RequestCounts | null) ?? null;
  return notice.type === "batch.stalled"
    ? {
        type: "batch.stalled",
        ...base,
        stall: { ...view, forMs: stall.forMs, expectedMs: stall.expectedMs },
        requestCounts,
        detectedAt: new Date(stall.detectedAt).toISOString(),
        metadata,
      }
    : {
        type: "batch.resumed",
        ...base,
        stall: view,
        stalledForMs: Math.max(0, notice.resumedAt - stall.since),
        resumedAt: new Date(notice.resumedAt).toISOString(),
        requestCounts,
        metadata,
      };
}
