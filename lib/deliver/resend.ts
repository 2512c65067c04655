import { randomUUID } from "node:crypto";
import type { Database, Queryable } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { AppError } from "@/lib/errors";
import { sendOrUnavailable } from "@/lib/events/send-or-unavailable";
import { deliveryRequestedEvent } from "@/lib/events/definitions";
import { enqueueEvents, type EventSender, flushOutbox } from "@/lib/events/outbox";

/** How many failed deliveries one recover call re-sends; call again while `more` is true. */
export const RECOVER_BATCH_SIZE = 500;
/** Failed deliveries a recovery preview (and the skipped counts) look at, oldest failure first. */
export const RECOVER_PREVIEW_LIMIT = 1_000;

/**
 * Failed deliveries that a recovery would not re-send, because they can only fail again: their
 * subscription asked for no more (410 Gone, untracked) or their endpoint is disabled. Test pings
 * (no job) are never recovered either. `d` = deliveries, `s` = subscriptions, `e` = endpoints.
 */
const SKIP_REASON = `CASE WHEN s.disabled_at IS NOT NULL THEN 'subscription_disabled'
  WHEN e.disabled_at IS NOT NULL THEN 'endpoint_disabled' END`;
const FAILED_SINCE = `FROM deliveries d
  LEFT JOIN subscriptions s ON s.id = d.subscription_id
  LEFT JOIN endpoints e ON e.id = d.endpoint_id
  WHERE d.status = 'failed' AND d.failed_at >= $1 AND d.job_id IS NOT NULL`;

export type RecoverySkipReason = "subscription_disabled" | "endpoint_disabled";

/**
 * Sends a delivery again with the same `webhook-id` (receivers dedupe on it). Each resend gets a
 * fresh Inngest event id, because Inngest starts no second run of a function for an event id it saw
 * in the last 24 hours. The status change and
 * the outbox entry commit together, so a send that fails now is retried by the reconciler rather
 * than leaving the delivery pending with nothing on its way. It never re-settles. A delivered
 * delivery stays `delivered` whatever the resend's attempts meet; its run replaces (cancels) any
 * older run of the same delivery still retrying (`deliver-webhook` is a singleton per delivery).
 */
export async function resendDelivery(
  db: Database,
  deliveryId: string,
  send: EventSender,
): Promise<{ deliveryId: string; eventId: string }> {
  const event = await db.transaction(async (tx) => {
    const [found] = await tx.query<{ id: string; subscription_disabled: boolean; endpoint_disabled: boolean }>(
      `SELECT d.id, COALESCE(s.disabled_at IS NOT NULL, false) AS subscription_disabled,
              COALESCE(e.disabled_at IS NOT NULL, false) AS endpoint_disabled
       FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id LEFT JOIN endpoints e ON e.id = d.endpoint_id
       WHERE d.id = $1 FOR UPDATE OF d`,
      [deliveryId],
    );
    if (!found) throw new AppError("not_found", `delivery ${deliveryId} does not exist`);
    if (found.subscription_disabled) {
      throw new AppError(
        "conflict",
        "the delivery's subscription is disabled (the receiver answered 410 Gone, or it was untracked): track the batch again to re-enable it",
      );
    }
    if (found.endpoint_disabled) {
      // It would only be closed as failed again at once: enabling the endpoint comes first.
      throw new AppError("conflict", "the delivery's endpoint is disabled: enable it, then resend");
    }
    // A delivered delivery stays delivered (it is sent again all the same); a failed one is open again.
    // Either way its next attempt is due now, which the dashboard shows as in flight.
    await tx.query(
      `UPDATE deliveries SET next_attempt_at = $2,
         status = CASE WHEN status = 'delivered' THEN status ELSE 'pending' END,
         failed_at = CASE WHEN status = 'delivered' THEN failed_at END,
         closed_reason = CASE WHEN status = 'delivered' THEN closed_reason END
       WHERE id = $1`,
      [found.id, nowDate()],
    );
    const resend = deliveryRequestedEvent(found.id, "resend");
    await enqueueEvents(tx, [resend]);
    return resend;
  });
  await sendOrUnavailable(() => flushOutbox(db, [event.id], send));
  return { deliveryId, eventId: event.id };
}

export interface RecoveryResult {
  resent: number;
  deliveryIds: string[];
  more: boolean;
  /** Failed deliveries since `since` left alone because they can only fail again (counted up to {@link RECOVER_PREVIEW_LIMIT}). */
  skipped: Record<RecoverySkipReason, number>;
}

/**
 * Re-sends deliveries that failed since `since` (after an outage on the receiver's side), at most
 * {@link RECOVER_BATCH_SIZE} per call. Test pings, deliveries whose subscription asked for no more
 * (410, untracked) and deliveries to a disabled endpoint are left alone, and counted as skipped.
 */
export async function recoverFailedDeliveries(
  db: Database,
  since: Date,
  send: EventSender,
): Promise<RecoveryResult> {
  checkSince(since);
  const recoverId = randomUUID();
  const { deliveryIds, eventIds, more, skipped } = await db.transaction(async (tx) => {
    const at = nowDate();
    const rows = await tx.query<{ id: string }>(
      `UPDATE deliveries SET status = 'pending', failed_at = NULL, closed_reason = NULL, next_attempt_at = $3
       WHERE id IN (SELECT d.id ${FAILED_SINCE} AND ${SKIP_REASON} IS NULL ORDER BY d.failed_at LIMIT $2 FOR UPDATE OF d)
       RETURNING id`,
      [since, RECOVER_BATCH_SIZE, at],
    );
    const events = rows.map((row) => deliveryRequestedEvent(row.id, "recover", { recoverId }));
    await enqueueEvents(tx, events);
    const [left] = await tx.query<{ more: boolean }>(
      `SELECT EXISTS (SELECT 1 ${FAILED_SINCE} AND ${SKIP_REASON} IS NULL) AS more`,
      [since],
    );
    const skippedRows = await tx.query<{ reason: RecoverySkipReason; count: number }>(
      `SELECT reason, count(*)::int AS count FROM (
         SELECT ${SKIP_REASON} AS reason ${FAILED_SINCE} AND ${SKIP_REASON} IS NOT NULL ORDER BY d.failed_at LIMIT $2
       ) skipped GROUP BY reason`,
      [since, RECOVER_PREVIEW_LIMIT],
    );
    return {
      deliveryIds: rows.map((row) => row.id),
      eventIds: events.map((event) => event.id),
      more: left!.more,
      skipped: skipCounts(skippedRows),
    };
  });
  await sendOrUnavailable(() => flushOutbox(db, eventIds, send));
  return { resent: deliveryIds.length, deliveryIds, more, skipped };
}

/** One destination of a recovery: a named endpoint, or a plain webhook URL. */
export interface RecoveryDestination {
  endpointId: string | null;
  endpointName: string | null;
  webhookUrl: string | null;
  count: number;
}

export interface RecoveryPreview {
  since: string;
  /** What a recovery would re-send now, grouped by destination, most deliveries first. */
  resend: { count: number; destinations: RecoveryDestination[] };
  /** What it would leave alone, and why. */
  skipped: { reason: RecoverySkipReason; count: number; destinations: RecoveryDestination[] }[];
  /** True when more than {@link RECOVER_PREVIEW_LIMIT} deliveries failed since then (the counts stop there). */
  truncated: boolean;
}

/**
 * What {@link recoverFailedDeliveries} would do for `since`, without doing it: the count and the
 * destinations it would re-send to, and what it would skip. Reads at most
 * {@link RECOVER_PREVIEW_LIMIT} failed deliveries, oldest failure first (as recovery sends them).
 */
export async function previewRecovery(db: Queryable, since: Date): Promise<RecoveryPreview> {
  checkSince(since);
  const rows = await db.query<{ reason: RecoverySkipReason | null; webhook_url: string | null; endpoint_id: string | null; endpoint_name: string | null }>(
    `SELECT ${SKIP_REASON} AS reason, s.webhook_url, e.id AS endpoint_id, e.name AS endpoint_name
     ${FAILED_SINCE} ORDER BY d.failed_at LIMIT $2`,
    [since, RECOVER_PREVIEW_LIMIT + 1],
  );
  const truncated = rows.length > RECOVER_PREVIEW_LIMIT;
  const groups = new Map<string, { reason: RecoverySkipReason | null; destinations: Map<string, RecoveryDestination> }>();
  for (const row of rows.slice(0, RECOVER_PREVIEW_LIMIT)) {
    const key = row.reason ?? "resend";
    const group = groups.get(key) ?? { reason: row.reason, destinations: new Map() };
    groups.set(key, group);
    const destinationKey = row.endpoint_id ?? `url:${row.webhook_url}`;
    const destination = group.destinations.get(destinationKey) ?? {
      endpointId: row.endpoint_id,
      endpointName: row.endpoint_name,
      webhookUrl: row.endpoint_id ? null : row.webhook_url,
      count: 0,
    };
    destination.count += 1;
    group.destinations.set(destinationKey, destination);
  }
  const summarize = (destinations?: Map<string, RecoveryDestination>) => {
    const list = [...(destinations?.values() ?? [])].sort((a, b) => b.count - a.count);
    return { count: list.reduce((sum, each) => sum + each.count, 0), destinations: list };
  };
  return {
    since: since.toISOString(),
    resend: summarize(groups.get("resend")?.destinations),
    skipped: (["endpoint_disabled", "subscription_disabled"] as const)
      .filter((reason) => groups.has(reason))
      .map((reason) => ({ reason, ...summarize(groups.get(reason)!.destinations) })),
    truncated,
  };
}

function checkSince(since: Date): void {
  if (since.getTime() > nowDate().getTime()) throw new AppError("invalid_request", "since: must not be in the future");
}

function skipCounts(rows: { reason: RecoverySkipReason; count: number }[]): Record<RecoverySkipReason, number> {
  const counts: Record<RecoverySkipReason, number> = { endpoint_disabled: 0, subscription_disabled: 0 };
  for (const row of rows) counts[row.reason] = row.count;
  return counts;
}
