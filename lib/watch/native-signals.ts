import type { Database } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { findJob, recordJobEvent } from "@/lib/jobs/store";
import { sendOrUnavailable } from "@/lib/events/send-or-unavailable";
import { type SignalSource, signalReceivedEvent } from "@/lib/events/definitions";
import type { EventSender } from "@/lib/events/outbox";
import type { JobKind, ProviderName } from "@/lib/providers/types";
import { settleJob } from "@/lib/settle/settlement";
import { retrieveSnapshot } from "./watching";

export interface NativeSignal {
  source: SignalSource;
  /** The provider's `webhook-id`: the same on every retry of one event. */
  webhookId: string;
  eventType: string;
  /** The provider's id of the batch (or response, job, run) the event is about. */
  objectId: string | null;
  provider: ProviderName;
  /** The job kind the event settles, or null for an event we only log. */
  kind: JobKind | null;
  payload: unknown;
}

/**
 * Keeps a verified inbound provider event (idempotent by webhook id: providers retry for days,
 * longer than Inngest's 24 h dedupe) and sends the settle signal. It throws when either fails, so
 * the route answers 5xx and the provider retries; a retry of a stored event sends the signal
 * again under the same event id, which Inngest drops if the first send got through.
 */
export async function acceptNativeSignal(
  db: Database,
  signal: NativeSignal,
  send: EventSender,
): Promise<{ duplicate: boolean; inboundEventId: number }> {
  const inserted = await db.query<{ id: number }>(
    `INSERT INTO inbound_events (source, webhook_id, event_type, object_id, payload, received_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (source, webhook_id) DO NOTHING RETURNING id`,
    [signal.source, signal.webhookId, signal.eventType, signal.objectId, JSON.stringify(signal.payload), nowDate()],
  );
  const duplicate = inserted.length === 0;
  const [row] = duplicate
    ? await db.query<{ id: number; applied_at: Date | null }>(
        "SELECT id, applied_at FROM inbound_events WHERE source = $1 AND webhook_id = $2",
        [signal.source, signal.webhookId],
      )
    : inserted;
  const inboundEventId = Number(row!.id);
  if (signal.kind && signal.objectId) {
    const event = signalReceivedEvent({
      source: signal.source,
      provider: signal.provider,
      kind: signal.kind,
      batchId: signal.objectId,
      inboundEventId,
      eventType: signal.eventType,
    });
    await sendOrUnavailable(() => send([event]));
  }
  return { duplicate, inboundEventId };
}

/** Thrown when the provider does not (yet) confirm what a native signal said; the settle function retries. */
export class SignalNotConfirmedError extends Error {
  constructor(status: string) {
    super(`the provider still reports "${status}"; retrying shortly`);
    this.name = "SignalNotConfirmedError";
  }
}

/**
 * What the settle function does with a native signal: confirm the status with the provider, then
 * settle through the same compare-and-set as polling. A signal for a job not tracked yet stays in
 * the inbound log; tracking replays it.
 */
export async function applySignal(
  db: Database,
  signal: { provider: ProviderName; kind: JobKind; batchId: string; inboundEventId: number; eventType: string },
  send: EventSender,
): Promise<{ outcome: "not_tracked" | "already_settled" | "settled" }> {
  const job = await findJob(db, signal);
  if (!job) return { outcome: "not_tracked" };
  const markApplied = () =>
    db.query("UPDATE inbound_events SET applied_at = $2 WHERE id = $1 AND applied_at IS NULL", [signal.inboundEventId, nowDate()]);
  if (job.settled_at) {
    await markApplied();
    return { outcome: "already_settled" };
  }
  const snapshot = await retrieveSnapshot(job);
  await recordJobEvent(db, job.id, "signal", { eventType: signal.eventType, confirmedStatus: snapshot.status }, nowDate());
  if (!snapshot.terminal) throw new SignalNotConfirmedError(snapshot.providerStatus);
  const { settled } = await settleJob(db, job.id, { by: "signal", snapshot }, send);
  await markApplied();
  return { outcome: settled ? "settled" : "already_settled" };
}
