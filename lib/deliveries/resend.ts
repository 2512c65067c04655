import { randomUUID } from "node:crypto";
import type { Database } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { AppError } from "@/lib/errors";
import { sendOrUnavailable } from "@/lib/inngest-send";
import { type EventSender, sendThroughInngest } from "@/lib/outbox";

/**
 * Sends a delivery again with the same `webhook-id` (receivers dedupe on it). Each resend gets a
 * fresh Inngest event id, because Inngest drops a repeated id for 24 hours. It never re-settles.
 */
export async function resendDelivery(
  db: Database,
  deliveryId: string,
  send: EventSender = sendThroughInngest,
): Promise<{ deliveryId: string; eventId: string }> {
  const [found] = await db.query<{ id: string; subscription_disabled: boolean }>(
    `SELECT d.id, COALESCE(s.disabled_at IS NOT NULL, false) AS subscription_disabled
     FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`,
    [deliveryId],
  );
  if (!found) throw new AppError("not_found", `delivery ${deliveryId} does not exist`);
  if (found.subscription_disabled) {
    throw new AppError(
      "conflict",
      "the delivery's subscription is disabled (the receiver answered 410 Gone, or it was untracked): track the batch again to re-enable it",
    );
  }
  const [row] = await db.query<{ id: string }>(
    "UPDATE deliveries SET status = 'pending', failed_at = NULL WHERE id = $1 RETURNING id",
    [deliveryId],
  );
  const eventId = `resend:${row.id}:${randomUUID()}`;
  await sendOrUnavailable(() =>
    send([{ id: eventId, name: "delivery/requested", data: { deliveryId: row.id, cause: "resend" } }]),
  );
  return { deliveryId: row.id, eventId };
}

/** Re-sends every delivery that failed since `since` (after an outage on the receiver's side). */
export async function recoverFailedDeliveries(
  db: Database,
  since: Date,
  send: EventSender = sendThroughInngest,
): Promise<{ resent: number; deliveryIds: string[] }> {
  if (since.getTime() > nowDate().getTime()) throw new AppError("invalid_request", "since: must not be in the future");
  const rows = await db.query<{ id: string }>(
    `UPDATE deliveries d SET status = 'pending', failed_at = NULL
     WHERE d.status = 'failed' AND d.failed_at >= $1
       -- A subscription disabled by a 410 or by untracking asked for no more deliveries.
       AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.disabled_at IS NOT NULL)
     RETURNING d.id`,
    [since],
  );
  const deliveryIds = rows.map((row) => row.id);
  const batchId = randomUUID();
  if (deliveryIds.length > 0) {
    await sendOrUnavailable(() =>
      send(
        deliveryIds.map((id) => ({
          id: `recover:${id}:${batchId}`,
          name: "delivery/requested",
          data: { deliveryId: id, cause: "recover" },
        })),
      ),
    );
  }
  return { resent: deliveryIds.length, deliveryIds };
}
