import "server-only";
import { z } from "zod";
import { readConfig } from "@/lib/config";
import type { Database } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { readTextBody } from "@/lib/http";
import type { EventSender } from "@/lib/events/outbox";
import type { JobKind } from "@/lib/providers/types";
import { acceptNativeSignal } from "@/lib/watch/native-signals";
import { SECRET_PREFIX, verifyWebhook } from "../security/standard-webhooks";

/** OpenAI's event types that end a job we can watch, and the kind each one settles. */
export const OPENAI_SIGNAL_KINDS = {
  "batch.completed": "batch",
  "batch.failed": "batch",
  "batch.expired": "batch",
  "batch.cancelled": "batch",
  "response.completed": "response",
  "response.failed": "response",
  "response.cancelled": "response",
  "response.incomplete": "response",
  "fine_tuning.job.succeeded": "fine_tuning_job",
  "fine_tuning.job.failed": "fine_tuning_job",
  "fine_tuning.job.cancelled": "fine_tuning_job",
  "eval.run.succeeded": "eval_run",
  "eval.run.failed": "eval_run",
  "eval.run.canceled": "eval_run",
} as const satisfies Record<string, JobKind>;

const MAX_WEBHOOK_BYTES = 256 * 1024;

const openaiEventSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  data: z.object({ id: z.string().min(1) }).passthrough().optional(),
});

/**
 * `POST /api/webhooks/openai`: verifies the raw text (never a re-serialised parse) as OpenAI signs
 * it — Standard Webhooks, checked with node:crypto as the Gemini route does (the openai SDK's
 * `verifySignature` imports a WebCrypto key and verifies on the thread pool for every request, at
 * about eight times the CPU) — logs every verified event by its `webhook-id`, and turns
 * job-ending events into settle signals. The answer is 200 once both are committed (one statement); the signal is sent after
 * the answer. A storage failure answers 5xx so OpenAI retries; a failed send only delays it.
 */
export async function receiveOpenAIWebhook(request: Request, db: Database, send: EventSender) {
  const secret = readConfig().openaiWebhookSecret;
  if (!secret) {
    throw new AppError("invalid_signature", "OPENAI_WEBHOOK_SECRET is not set, so no OpenAI webhook can be verified");
  }
  const body = await readTextBody(request, MAX_WEBHOOK_BYTES);
  let webhookId: string;
  try {
    ({ id: webhookId } = verifyWebhook({ headers: request.headers, body, secrets: [standardSecret(secret)] }));
  } catch {
    throw new AppError("invalid_signature", "the webhook signature, id or timestamp is invalid");
  }
  let payload: unknown;
  let parsed: z.infer<typeof openaiEventSchema>;
  try {
    payload = JSON.parse(body);
    parsed = openaiEventSchema.parse(payload);
  } catch {
    throw new AppError("invalid_request", "body: not an OpenAI webhook event");
  }
  const kind = (OPENAI_SIGNAL_KINDS as Record<string, JobKind>)[parsed.type] ?? null;
  return acceptNativeSignal(
    db,
    {
      source: "openai",
      webhookId,
      eventType: parsed.type,
      objectId: parsed.data?.id ?? null,
      provider: "openai",
      kind,
      payload,
    },
    send,
  );
}

/**
 * OpenAI's secrets are `whsec_<base64>`; one given without the prefix is, as the openai SDK takes
 * it, the key's own UTF-8 bytes.
 */
function standardSecret(secret: string): string {
  return secret.startsWith(SECRET_PREFIX) ? secret : SECRET_PREFIX + Buffer.from(secret, "utf8").toString("base64");
}
