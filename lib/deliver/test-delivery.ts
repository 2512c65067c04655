import type { Database } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { AppError } from "@/lib/errors";
import { newDeliveryId } from "./create-deliveries";
import { attemptDelivery, markDeliveryFailed } from "./attempt";
import type { WebhookTestEvent } from "./unified-event";

/**
 * `POST /api/endpoints/{id}/test`: one signed `webhook.test` event, sent right away and reported,
 * so a receiver can be checked before any batch ends. It does not count toward auto-disabling.
 */
export async function sendEndpointTest(db: Database, endpointId: string) {
  const [endpoint] = await db.query<{ id: string; name: string }>("SELECT id, name FROM endpoints WHERE id = $1", [
    endpointId,
  ]);
  if (!endpoint) throw new AppError("not_found", `endpoint ${endpointId} does not exist`);
  const deliveryId = newDeliveryId();
  const payload: WebhookTestEvent = { type: "webhook.test", endpoint: endpoint.name, sentAt: nowDate().toISOString() };
  await db.query(
    "INSERT INTO deliveries (id, endpoint_id, event_type, payload, created_at) VALUES ($1, $2, 'webhook.test', $3, $4)",
    [deliveryId, endpoint.id, JSON.stringify(payload), nowDate()],
  );
  const outcome = await attemptDelivery(db, deliveryId, { runId: "endpoint-test", attempt: 0 });
  if (outcome.outcome === "retry") {
    // A test is sent once, never retried: close it so it does not look pending forever.
    await markDeliveryFailed(db, deliveryId, outcome.error, "sent_once");
  }
  if (outcome.outcome === "skipped") {
    throw new AppError("conflict", outcome.why === "endpoint_disabled" ? "the endpoint is disabled" : "the test could not be sent");
  }
  return {
    deliveryId,
    attempt: {
      ok: outcome.outcome === "delivered",
      statusCode: outcome.statusCode,
      durationMs: outcome.durationMs,
      error: outcome.outcome === "retry" ? outcome.error : null,
    },
  };
}
