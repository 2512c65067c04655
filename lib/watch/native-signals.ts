import type { Database } from "@/lib/db";
import { toStorableJson, toStorableText } from "@/lib/storable";
import { nowDate } from "@/lib/clock";
import { findJob, recordJobEvent } from "@/lib/jobs/store";
import { sendAfterResponse } from "@/lib/events/dispatch";
import { type SignalSource, signalReceiptForStatement, signalReceivedEvent } from "@/lib/events/definitions";
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
 * longer than Inngest's 24 h window of one run per function and event id) and, when it ends a job, its settle signal in the outbox — in
 * one statement, so one commit: once this returns, the event is in Postgres and its signal will be
 * sent, through `send` after the answer (lib/events/dispatch.ts), or by the reconciler if that
 * send fails. It throws only when storing fails, so the route answers 5xx and the provider
 * retries. A retry of a stored event stores nothing new, and queues its signal only if it was
 * never queued (an event stored before signals went through the outbox, whose send failed).
 */
export async function acceptNativeSignal(
  db: Database,
  signal: NativeSignal,
  send: EventSender,
): Promise<{ duplicate: boolean; inboundEventId: number }> {
  // A signed event is the provider's word and is kept even when Postgres could not store it as is.
  signal = {
    ...signal,
    webhookId: toStorableText(signal.webhookId),
    eventType: toStorableText(signal.eventType),
    objectId: signal.objectId === null ? null : toStorableText(signal.objectId),
    payload: toStorableJson(signal.payload),
  };
  const receipt =
    signal.kind && signal.objectId
      ? signalReceiptForStatement(
          { source: signal.source, provider: signal.provider, kind: signal.kind, batchId: signal.objectId, eventType: signal.eventType },
          "inbound.id",
        )
      : null;
  const statement = storeInboundAndSignal(receipt?.idSql ?? "NULL");
  const params = [
    signal.source,
    signal.webhookId,
    signal.eventType,
    signal.objectId,
    JSON.stringify(signal.payload),
    nowDate(),
    receipt ? JSON.stringify(receipt.data) : null,
  ];
  // A concurrent first delivery of the same webhook-id commits while this statement waits on it,
  // after its snapshot was taken: then the statement sees no row at all, and a second run does.
  let [row] = await db.query<StoredSignalRow>(statement, params);
  if (!row) [row] = await db.query<StoredSignalRow>(statement, params);
  if (!row) throw new Error(`inbound event ${signal.source}/${signal.webhookId} was neither stored nor found`);
  const inboundEventId = Number(row.id);
  if (receipt && row.event_id) {
    const event = signalReceivedEvent({ ...receipt.data, inboundEventId });
    if (event.id !== row.event_id) throw new Error(`queued signal ${row.event_id} is not ${event.id}`);
    await sendAfterResponse(db, [event], send);
  }
  return { duplicate: row.duplicate, inboundEventId };
}

interface StoredSignalRow {
  id: number | string;
  duplicate: boolean;
  event_id: string | null;
}

/**
 * $1 source, $2 webhook id, $3 event type, $4 object id, $5 payload, $6 now, $7 the signal's data
 * without its inbound id (null: no signal); `signalIdSql` is the signal's id over `inbound.id`.
 */
function storeInboundAndSignal(signalIdSql: string): string {
  return `
    WITH stored AS (
      INSERT INTO inbound_events (source, webhook_id, event_type, object_id, payload, received_at)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (source, webhook_id) DO NOTHING
      RETURNING id
    ), inbound AS (
      SELECT id, false AS duplicate FROM stored
      UNION ALL
      SELECT id, true FROM inbound_events WHERE source = $1 AND webhook_id = $2 AND NOT EXISTS (SELECT 1 FROM stored)
    ), queued AS (
      INSERT INTO outbox (event_id, name, data, created_at)
      SELECT ${signalIdSql}, 'batch/signal.received', $7::jsonb || jsonb_build_object('inboundEventId', inbound.id), $6
      FROM inbound WHERE $7::jsonb IS NOT NULL
      ON CONFLICT (event_id) DO NOTHING
      RETURNING event_id
    )
    SELECT inbound.id, inbound.duplicate, queued.event_id FROM inbound LEFT JOIN queued ON true`;
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
