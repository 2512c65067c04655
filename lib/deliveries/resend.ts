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
  const [row] = await db.query<{ id: string }>(
    "UPDATE deliveries SET status = 'pending', failed_at = NULL WHERE id = $1 RETURNING id",
    [deliveryId],
  );
  if (!row) throw new AppError("not_found", `delivery ${deliveryId} does not exist`);
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
    "UPDATE deliveries SET status = 'pending', failed_at = NULL WHERE status = 'failed' AND failed_at >= $1 RETURNING id",
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
