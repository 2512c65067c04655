import { eventType } from "inngest";
import { z } from "zod";
import { JOB_KINDS, PROVIDER_NAMES, UNIFIED_STATUSES } from "@/lib/providers/types";
import { OUTCOMES, SETTLE_REASONS } from "@/lib/deliver/unified-event";

/**
 * Every event batchwatch sends or receives, typed with zod. Inngest validates incoming event data
 * against these schemas, and so do we before sending. Schemas may not transform (Inngest needs
 * input and output types to match), so defaults such as `kind: "batch"` are applied by the code
 * that reads the event.
 */
const jsonObject = z.record(z.string(), z.unknown());

export const batchTrackedData = z
  .object({
    provider: z.enum(PROVIDER_NAMES),
    kind: z.enum(JOB_KINDS).optional(),
    batchId: z.string().min(1).max(512),
    evalId: z.string().min(1).max(512).optional(),
    webhookUrl: z.string().url().optional(),
    endpoint: z.string().min(1).max(100).optional(),
    metadata: jsonObject.optional(),
    subscriptionId: z.string().uuid().optional(),
  })
  .strict()
  .refine((data) => !(data.webhookUrl && data.endpoint), {
    message: "give webhookUrl or endpoint, not both",
    path: ["endpoint"],
  });

/** `batch/tracked`: watch this batch (sent by `POST /api/batches`, or by a user's own app). */
export const batchTracked = eventType("batch/tracked", { schema: batchTrackedData });

/** `batch/watch.requested`: start (or continue) the one live watcher of a job. Internal. */
export const watchRequested = eventType("batch/watch.requested", {
  schema: z.object({
    jobId: z.string().uuid(),
    provider: z.enum(PROVIDER_NAMES),
    generation: z.number().int().positive(),
    continuation: z.number().int().nonnegative(),
  }),
});

/** `batch/signal.received`: a verified native provider webhook said this job may have ended. */
export const signalReceived = eventType("batch/signal.received", {
  schema: z.object({
    source: z.enum(["openai", "gemini"]),
    provider: z.enum(PROVIDER_NAMES),
    kind: z.enum(JOB_KINDS),
    batchId: z.string().min(1),
    inboundEventId: z.number().int().positive(),
    eventType: z.string(),
  }),
});

/**
 * `batch/settled`: emitted exactly once per job when it reaches its outcome. A user's own Inngest
 * functions may trigger on it or `step.waitForEvent` it (match on `data.provider` + `data.batchId`).
 */
export const batchSettled = eventType("batch/settled", {
  schema: z.object({
    jobId: z.string().uuid(),
    provider: z.enum(PROVIDER_NAMES),
    kind: z.enum(JOB_KINDS),
    batchId: z.string(),
    outcome: z.enum(OUTCOMES),
    status: z.enum(UNIFIED_STATUSES),
    reason: z.enum(SETTLE_REASONS).nullable(),
    type: z.string(),
  }),
});

/** `delivery/requested`: sign and send one delivery. Resends carry a fresh event id. */
export const deliveryRequested = eventType("delivery/requested", {
  schema: z.object({
    deliveryId: z.string().min(1),
    cause: z.enum(["settled", "subscribed_after_settlement", "resend", "recover", "test"]),
  }),
});

export type BatchTrackedData = z.infer<typeof batchTrackedData>;
