import { randomUUID } from "node:crypto";
import { z } from "zod";
import { OUTCOMES, SETTLE_REASONS, SUBSCRIBABLE_EVENT_TYPES } from "@/lib/deliver/unified-event";
import { JOB_KINDS, PROVIDER_NAMES, UNIFIED_STATUSES } from "@/lib/providers/types";
import { RESULT_REASONS, RESULT_VERDICTS } from "@/lib/settle/outcome-results";

/**
 * Every event batchwatch sends or receives, in one place: its name, its data schema (zod), its
 * type, and the builder that owns its event id. Every sender builds its events here, and a builder
 * validates the data before the event can reach the outbox or Inngest. `inngest/events.ts` wraps
 * the same schemas for Inngest, which validates the events that trigger functions.
 *
 * Event ids are Inngest's run idempotency keys: the engine keeps the event, but starts at most one
 * run per function and event id within 24 h (a dashboard rerun is not held to it). So each id says
 * what must happen only once: a job settles once (`settled:<job>`), a delivery is requested once
 * (`deliver:<delivery>`), while a resend or a re-enabled subscription gets a fresh id.
 *
 * Schemas may only widen: Inngest re-validates the trigger event of runs still in flight, so a
 * narrower schema would fail runs that started under the old one. Every shape ever emitted is kept
 * in fixtures/events/emitted.json and checked against today's schemas
 * (test/events/schemas-widen.test.ts): add a shape there when an event gains a field or a value. Schemas may not transform either
 * (Inngest needs input and output types to match), so defaults such as `kind: "batch"` are applied
 * by the code that reads the event.
 */

const jsonObject = z.record(z.string(), z.unknown());

const batchTrackedData = z
  .object({
    provider: z.enum(PROVIDER_NAMES),
    kind: z.enum(JOB_KINDS).optional(),
    batchId: z.string().min(1).max(512),
    evalId: z.string().min(1).max(512).optional(),
    webhookUrl: z.string().url().optional(),
    endpoint: z.string().min(1).max(100).optional(),
    metadata: jsonObject.optional(),
    subscriptionId: z.string().uuid().optional(),
    /** The job group this batch joins (group.settled once every batch of the group has settled). */
    group: z.string().min(1).max(200).optional(),
    /** The subscription's event filter (default: its endpoint's, else the four outcomes). */
    events: z.array(z.enum(SUBSCRIBABLE_EVENT_TYPES)).min(1).optional(),
  })
  .strict()
  .refine((data) => !(data.webhookUrl && data.endpoint), {
    message: "give webhookUrl or endpoint, not both",
    path: ["endpoint"],
  });

const watchRequestedData = z.object({
  jobId: z.string().uuid(),
  provider: z.enum(PROVIDER_NAMES),
  generation: z.number().int().positive(),
  continuation: z.number().int().nonnegative(),
});

export const SIGNAL_SOURCES = ["openai", "gemini"] as const;
export type SignalSource = (typeof SIGNAL_SOURCES)[number];

const signalReceivedData = z.object({
  source: z.enum(SIGNAL_SOURCES),
  provider: z.enum(PROVIDER_NAMES),
  kind: z.enum(JOB_KINDS),
  batchId: z.string().min(1),
  inboundEventId: z.number().int().positive(),
  eventType: z.string(),
});

const batchSettledData = z.object({
  jobId: z.string().uuid(),
  provider: z.enum(PROVIDER_NAMES),
  kind: z.enum(JOB_KINDS),
  batchId: z.string(),
  outcome: z.enum(OUTCOMES),
  status: z.enum(UNIFIED_STATUSES),
  reason: z.enum(SETTLE_REASONS).nullable(),
  type: z.string(),
  /** A completed batch's requests: all succeeded, partly or all failed, and the most common error. */
  results: z
    .object({
      verdict: z.enum(RESULT_VERDICTS),
      reason: z.enum(RESULT_REASONS),
      commonError: z.object({ code: z.string().nullable(), message: z.string(), count: z.number().int() }).nullable(),
      errorsRead: z.number().int(),
    })
    .optional(),
});

/** Why a delivery is requested; `notice` is a stalled / resumed / group.settled notice. */
export const DELIVERY_CAUSES = ["settled", "subscribed_after_settlement", "resend", "recover", "test", "notice"] as const;
export type DeliveryCause = (typeof DELIVERY_CAUSES)[number];

const deliveryRequestedData = z.object({
  deliveryId: z.string().min(1),
  cause: z.enum(DELIVERY_CAUSES),
});

/** Every event by name, with the schema of its data. */
export const EVENTS = {
  /** Watch this batch (sent by `POST /api/batches`, or by a user's own app). */
  "batch/tracked": batchTrackedData,
  /** Start (or continue) the one live watcher of a job. Internal. */
  "batch/watch.requested": watchRequestedData,
  /** A verified native provider webhook said this job may have ended. */
  "batch/signal.received": signalReceivedData,
  /**
   * Emitted exactly once per job when it reaches its outcome. A user's own Inngest functions may
   * trigger on it or `step.waitForEvent` it (match on `data.provider` + `data.batchId`).
   */
  "batch/settled": batchSettledData,
  /** Sign and send one delivery. Resends carry a fresh event id. */
  "delivery/requested": deliveryRequestedData,
} as const;

export type EventName = keyof typeof EVENTS;
export type EventData<N extends EventName> = z.infer<(typeof EVENTS)[N]>;
export type BatchTrackedData = EventData<"batch/tracked">;
export type WatchRequestedData = EventData<"batch/watch.requested">;
export type SignalReceivedData = EventData<"batch/signal.received">;
export type BatchSettledData = EventData<"batch/settled">;
export type DeliveryRequestedData = EventData<"delivery/requested">;

/** An event ready to be written to the outbox and sent: built (and validated) by a builder below. */
export type OutgoingEvent = { [N in EventName]: { id: string; name: N; data: EventData<N> } }[EventName];

function build<N extends EventName>(name: N, id: string, data: EventData<N>): OutgoingEvent {
  const parsed = EVENTS[name].safeParse(data);
  if (!parsed.success) {
    // A bug of ours, not bad input: nothing reaches the outbox or Inngest that its consumer would refuse.
    throw new Error(`refusing to send an invalid ${name} event: ${parsed.error.message}`);
  }
  return { id, name, data } as OutgoingEvent;
}

/**
 * `batch/tracked` for a subscription the API recorded. A subscription tracked again after it was
 * untracked needs a fresh id: its first event was sent already, and a repeat would be dropped.
 */
export function batchTrackedEvent(data: BatchTrackedData & { subscriptionId: string }, options: { reactivated: boolean }) {
  const id = options.reactivated ? `tracked:${data.subscriptionId}:${randomUUID()}` : `tracked:${data.subscriptionId}`;
  return build("batch/tracked", id, data);
}

/** One id per watch generation and continuation: a watcher starts (or continues) once. */
export function watchRequestedEvent(data: WatchRequestedData) {
  return build("batch/watch.requested", `watch:${data.jobId}:${data.generation}:${data.continuation}`, data);
}

/**
 * A native signal, on receipt (`signal:<inbound event>`, the same on every provider retry of the
 * webhook), or replayed when the job it is about is tracked after it arrived
 * (`signal:<inbound event>:<job>`: the first id was sent already and found no job).
 */
export function signalReceivedEvent(data: SignalReceivedData, options: { replayForJob?: string } = {}) {
  const id = options.replayForJob ? `signal:${data.inboundEventId}:${options.replayForJob}` : `signal:${data.inboundEventId}`;
  return build("batch/signal.received", id, data);
}

/**
 * The receipt signal of an inbound event that one statement stores and queues together
 * (lib/watch/native-signals.ts), before Postgres has numbered the event: the data is checked now,
 * and the id is given as SQL over the column that will hold the number — the same id as
 * {@link signalReceivedEvent}'s on receipt, which builds the event once the number is known.
 */
export function signalReceiptForStatement(data: Omit<SignalReceivedData, "inboundEventId">, inboundIdColumn: string) {
  signalReceivedEvent({ ...data, inboundEventId: 1 });
  return { idSql: `'signal:' || ${inboundIdColumn}`, data };
}

/** A job settles exactly once, so its settlement has one id. */
export function batchSettledEvent(data: BatchSettledData) {
  return build("batch/settled", `settled:${data.jobId}`, data);
}

/**
 * One delivery request: the first (`deliver:<delivery>`, once per delivery), a resend (a fresh id
 * each time) or a recovery (one id per recover call, so a repeated call is not dropped).
 */
export function deliveryRequestedEvent(
  deliveryId: string,
  cause: Exclude<DeliveryCause, "test">,
  options: { recoverId?: string } = {},
) {
  const id =
    cause === "resend"
      ? `resend:${deliveryId}:${randomUUID()}`
      : cause === "recover"
        ? `recover:${deliveryId}:${options.recoverId ?? randomUUID()}`
        : `deliver:${deliveryId}`;
  return build("delivery/requested", id, { deliveryId, cause });
}
