import "server-only";
import { canonicalBatchId } from "@/lib/providers";
import { z } from "zod";
import { readConfig } from "@/lib/config";
import type { Database } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { readTextBody } from "@/lib/http";
import type { EventSender } from "@/lib/events/outbox";
import type { JobKind } from "@/lib/providers/types";
import { acceptNativeSignal } from "@/lib/watch/native-signals";
import { verifyWebhook, WebhookVerificationError } from "@/lib/security/standard-webhooks";

/**
 * Gemini API webhooks (static, project-level endpoints): Standard Webhooks headers, HMAC-SHA256
 * under the `whsec_` secret returned when the webhook was created (GEMINI_WEBHOOK_SECRET).
 *
 * Gemini sends thin payloads: `{ "type": "batch.succeeded", "version": "v1", "timestamp": "…",
 * "data": { "id": "batches/123", … } }`, with `output_file_uri` on success and `error_code` /
 * `error_message` on failure. The batch is named by `data.id` (or `data.name`); a bare id gets
 * the `batches/` prefix, the form batchwatch tracks Gemini batches under.
 */

/** Gemini's event types that end a batch; anything else verified is logged but settles nothing. */
export const GEMINI_SIGNAL_KINDS = {
  "batch.succeeded": "batch",
  "batch.failed": "batch",
  "batch.expired": "batch",
  "batch.cancelled": "batch",
} as const satisfies Record<string, JobKind>;

const MAX_WEBHOOK_BYTES = 64 * 1024;

const geminiEventSchema = z.object({
  type: z.string().min(1).max(200),
  data: z
    .object({ id: z.string().min(1).max(512).optional(), name: z.string().min(1).max(512).optional() })
    .passthrough()
    .optional(),
});

/**
 * `POST /api/webhooks/gemini`: verifies the raw text (never a re-serialised parse), logs the
 * verified event by its `webhook-id`, and turns batch-ending events into settle signals. Anything
 * unverifiable is `invalid_signature` and nothing is stored. The answer is 200 once the event and
 * its signal are committed (one statement); the signal is sent after the answer. A storage failure
 * throws, so the route answers 5xx and Gemini retries; a failed send only delays the signal.
 */
export async function receiveGeminiWebhook(request: Request, db: Database, send: EventSender) {
  const secret = readConfig().geminiWebhookSecret;
  if (!secret) {
    throw new AppError("invalid_signature", "GEMINI_WEBHOOK_SECRET is not set, so no Gemini webhook can be verified");
  }
  const body = await readTextBody(request, MAX_WEBHOOK_BYTES);
  let webhookId: string;
  try {
    ({ id: webhookId } = verifyWebhook({ headers: request.headers, body, secrets: [secret] }));
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      throw new AppError("invalid_signature", `the webhook is not verified: ${error.message}`);
    }
    throw error;
  }

  let payload: unknown;
  let event: z.infer<typeof geminiEventSchema>;
  try {
    payload = JSON.parse(body);
    event = geminiEventSchema.parse(payload);
  } catch {
    throw new AppError("invalid_request", "body: not a Gemini webhook event");
  }
  const kind = (GEMINI_SIGNAL_KINDS as Record<string, JobKind>)[event.type] ?? null;
  const resource = event.data?.id ?? event.data?.name ?? null;
  return acceptNativeSignal(
    db,
    {
      source: "gemini",
      webhookId,
      eventType: event.type,
      objectId: resource === null ? null : kind === "batch" ? canonicalBatchId("gemini", resource) : resource,
      provider: "gemini",
      kind,
      payload,
    },
    send,
  );
}


