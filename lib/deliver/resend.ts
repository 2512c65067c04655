import { randomUUID } from "node:crypto";
import type { Database } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { AppError } from "@/lib/errors";
import { sendOrUnavailable } from "@/lib/events/send-or-unavailable";
import { enqueueEvents, type EventSender, flushOutbox, type OutgoingEvent, sendThroughInngest } from "@/lib/events/outbox";

/** How many failed deliveries one recover call re-sends; call again while `more` is true. */
export const RECOVER_BATCH_SIZE = 500;

/**
 * Sends a delivery again with the same `webhook-id` (receivers dedupe on it). Each resend gets a
 * fresh Inngest event id, because Inngest drops a repeated id for 24 hours. The status change and
 * the outbox entry commit together, so a send that fails now is retried by the reconciler rather
 * than leaving the delivery pending with nothing on its way. It never re-settles.
 */
export async function resendDelivery(
  db: Database,
  deliveryId: string,
  send: EventSender = sendThroughInngest,
): Promise<{ deliveryId: string; eventId: string }> {
  const event = await db.transaction(async (tx) => {
    const [found] = await tx.query<{ id: string; subscription_disabled: boolean }>(
      `SELECT d.id, COALESCE(s.disabled_at IS NOT NULL, false) AS subscription_disabled
       FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1 FOR UPDATE OF d`,
      [deliveryId],
    );
    if (!found) throw new AppError("not_found", `delivery ${deliveryId} does not exist`);
    if (found.subscription_disabled) {
      throw new AppError(
        "conflict",
        "the delivery's subscription is disabled (the receiver answered 410 Gone, or it was untracked): track the batch again to re-enable it",
      );
    }
    await tx.query("UPDATE deliveries SET status = 'pending', failed_at = NULL WHERE id = $1", [found.id]);
    const resend = deliveryEvent(found.id, "resend", `resend:${found.id}:${randomUUID()}`);
    await enqueueEvents(tx, [resend]);
    return resend;
  });
  await sendOrUnavailable(() => flushOutbox(db, [event.id], send));
  return { deliveryId, eventId: event.id };
}

/**
 * Re-sends deliveries that failed since `since` (after an outage on the receiver's side), at most
 * {@link RECOVER_BATCH_SIZE} per call. Test pings and deliveries whose subscription asked for no
 * more (410, untracked) are left alone.
 */
export async function recoverFailedDeliveries(
  db: Database,
  since: Date,
  send: EventSender = sendThroughInngest,
): Promise<{ resent: number; deliveryIds: string[]; more: boolean }> {
  if (since.getTime() > nowDate().getTime()) throw new AppError("invalid_request", "since: must not be in the future");
  const recoverId = randomUUID();
  const recoverable = `d.status = 'failed' AND d.failed_at >= $1 AND d.job_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.disabled_at IS NOT NULL)`;
  const { deliveryIds, eventIds, more } = await db.transaction(async (tx) => {
    const rows = await tx.query<{ id: string }>(
      `UPDATE deliveries SET status = 'pending', failed_at = NULL
       WHERE id IN (SELECT d.id FROM deliveries d WHERE ${recoverable} ORDER BY d.failed_at LIMIT $2 FOR UPDATE OF d)
       RETURNING id`,
      [since, RECOVER_BATCH_SIZE],
    );
    const events = rows.map((row) => deliveryEvent(row.id, "recover", `recover:${row.id}:${recoverId}`));
    await enqueueEvents(tx, events);
    const [left] = await tx.query<{ more: boolean }>(`SELECT EXISTS (SELECT 1 FROM deliveries d WHERE ${recoverable}) AS more`, [since]);
    return { deliveryIds: rows.map((row) => row.id), eventIds: events.map((event) => event.id), more: left!.more };
  });
  await sendOrUnavailable(() => flushOutbox(db, eventIds, send));
  return { resent: deliveryIds.length, deliveryIds, more };
}

function deliveryEvent(deliveryId: string, cause: "resend" | "recover", id: string): OutgoingEvent {
  return { id, name: "delivery/requested", data: { deliveryId, cause } };
}
