import { RetryAfterError } from "inngest";
import { inngest } from "@/inngest/client";
import { deliveryRequested } from "@/inngest/events";
import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { attemptDelivery, DELIVERY_RETRIES, markDeliveryFailed } from "@/lib/deliver/attempt";

export { DELIVERY_RETRIES };

/** The SDK types `retries` as 0–20; the config allows 1–20. */
type DeliveryRetries = NonNullable<Parameters<typeof inngest.createFunction>[0]["retries"]>;

/**
 * `delivery/requested` → one signed POST per attempt, retried with backoff (and the receiver's
 * Retry-After) until a 2xx; a 410 disables the subscription and stops. When retries run out the
 * run fails visibly in the Inngest dashboard and the delivery is marked failed; replaying the run
 * there, or resending from the app, delivers again under the same `webhook-id`.
 *
 * One run per delivery at a time: a `concurrency` key would only serialise steps, so a resend,
 * recovery or replay would interleave with the older run's retries. As a singleton keyed by the
 * delivery, a new run cancels the older one (a cancelled run does not reach `onFailure`). A run
 * for a delivery already delivered does nothing unless it is a resend, and `onFailure` never
 * touches a delivered delivery (lib/deliver/attempt.ts).
 */
export const deliverWebhook = inngest.createFunction(
  {
    id: "deliver-webhook",
    name: "Deliver a webhook",
    triggers: [deliveryRequested],
    // Read when the function is defined: the engine learns it when the app syncs.
    retries: readConfig().deliveryRetries as DeliveryRetries,
    singleton: { key: "event.data.deliveryId", mode: "cancel" },
    onFailure: async ({ event, error }) => {
      const deliveryId = (event.data.event.data as { deliveryId: string }).deliveryId;
      await markDeliveryFailed(await getDb(), deliveryId, `gave up after ${readConfig().deliveryRetries + 1} attempts: ${error.message}`);
    },
  },
  async ({ event, step, runId, attempt }) => {
    return step.run("send-signed-request", async () => {
      const outcome = await attemptDelivery(await getDb(), event.data.deliveryId, {
        runId,
        attempt,
        resend: event.data.cause === "resend",
      });
      if (outcome.outcome === "retry") {
        throw new RetryAfterError(outcome.error, outcome.retryAfterMs);
      }
      return outcome;
    });
  },
);
