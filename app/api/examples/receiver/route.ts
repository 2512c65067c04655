import { readConfig } from "@/lib/config";
import { AppError, type ErrorCode } from "@/lib/errors";
import { readTextBody, route } from "@/lib/http";
import { BatchWebhookError, type BatchWebhookErrorCode, verifyBatchWebhook } from "@/receiver-kit/verify-batch-webhook";

export const dynamic = "force-dynamic";

/**
 * An example receiver of batchwatch's own webhooks, built on the receiver kit
 * (receiver-kit/verify-batch-webhook.ts), signed with BATCH_WEBHOOK_SECRET. Point a subscription
 * at `/api/examples/receiver` to watch deliveries end to end. It is public: like any receiver, it
 * is authenticated by the signature, not by an API key. It exists only in development, with
 * BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1 (the flag that lets deliveries reach it): otherwise it is a
 * 404 like any unknown path. Bodies over 256 KB are refused before they are read whole.
 */

const MAX_BODY_BYTES = 256 * 1024;

const CODE_BY_RECEIVER_ERROR: Record<BatchWebhookErrorCode, ErrorCode> = {
  invalid_signature: "invalid_signature",
  stale_timestamp: "invalid_signature",
  invalid_payload: "invalid_request",
  // Another request is processing this id right now; a 409 makes batchwatch retry later.
  in_progress: "conflict",
};

export const POST = route(async (request) => {
  const config = readConfig();
  if (!config.allowPrivateWebhooks) throw new AppError("not_found", "no such route");
  const secret = config.defaultWebhookSecret;
  if (!secret) {
    throw new AppError("invalid_signature", "BATCH_WEBHOOK_SECRET is not set, so this example receiver cannot verify anything");
  }
  const body = await readTextBody(request, MAX_BODY_BYTES);
  let delivery;
  try {
    delivery = await verifyBatchWebhook(new Request(request.url, { method: "POST", headers: request.headers, body }), secret);
  } catch (error) {
    if (error instanceof BatchWebhookError) throw new AppError(CODE_BY_RECEIVER_ERROR[error.code], error.message);
    throw error;
  }
  // A retry of a delivery already processed: acknowledge it again, do nothing else.
  if (delivery.duplicate) return Response.json({ received: true, duplicate: true });

  try {
    const { event } = delivery;
    const subject =
      event.type === "webhook.test" ? `endpoint ${event.endpoint}` : event.type === "group.settled" ? `group ${event.group}` : `${event.provider} ${event.id}`;
    console.info(`[batchwatch example receiver] ${event.type} for ${subject}`);
    await delivery.ack();
  } catch (error) {
    await delivery.release(); // The retry will be processed as new.
    throw error;
  }
  return Response.json({ received: true, duplicate: false });
});
