import type { Database } from "@/lib/db";
import { now, nowDate } from "@/lib/clock";
import { getProvider } from "@/lib/providers";
import { createDeliveriesFor } from "@/lib/deliver/create-deliveries";
import { eventTypeFor, type Outcome, type SettleReason } from "@/lib/deliver/unified-event";
import { batchSettledEvent } from "@/lib/events/definitions";
import { enqueueEvents, type EventSender, flushOutbox } from "@/lib/events/outbox";
import { recordJobEvent, type JobRow } from "@/lib/jobs/store";
import { isTerminal, type UnifiedSnapshot, type UnifiedStatus } from "@/lib/providers/types";
import { settleGroupsOf } from "./groups";
import { type OutcomeResults, readOutcomeResults } from "./outcome-results";

/** How a job ended: the provider's terminal snapshot, or a failure of ours with its reason. */
export type Settlement =
  | { by: "poll" | "signal"; snapshot: UnifiedSnapshot }
  | { by: "watcher"; reason: SettleReason; message: string; lastSnapshot?: UnifiedSnapshot | null };

/**
 * Settles a job exactly once. The compare-and-set on `settled_at IS NULL`, the deliveries for every
 * active subscription and their outbox entries commit in one transaction, so however many pollers,
 * signals, retries or replays race here, one wins and the rest see `settled: false`.
 */
export async function settleJob(
  db: Database,
  jobId: string,
  settlement: Settlement,
  send: EventSender,
): Promise<{ settled: boolean; deliveryIds: string[] }> {
  // Read before the transaction (it may download part of the error file); skipped once settled.
  const results = await outcomeResultsFor(db, jobId, settlement);
  const result = await db.transaction(async (tx) => {
    const at = nowDate();
    const fields = settlementFields(settlement);
    const [job] = await tx.query<JobRow>(
      `UPDATE jobs SET
         settled_at = $2, outcome = $3, settle_reason = $4, settled_by = $5, status = $6,
         provider_status = COALESCE($7, provider_status),
         request_counts = COALESCE($8::jsonb, request_counts),
         progress = COALESCE($9, progress),
         provider_created_at = COALESCE($10, provider_created_at),
         provider_ended_at = COALESCE($11, provider_ended_at),
         expires_at = COALESCE($12, expires_at),
         raw = COALESCE($13::jsonb, raw), detail = COALESCE($14::jsonb, detail),
         results = $15::jsonb, stall = NULL,
         watch_lease_until = NULL, next_poll_at = NULL, updated_at = $2
       WHERE id = $1 AND settled_at IS NULL
       RETURNING *`,
      [
        jobId,
        at,
        fields.outcome,
        fields.reason,
        settlement.by,
        fields.status,
        fields.snapshot?.providerStatus ?? null,
        fields.snapshot?.requestCounts ? JSON.stringify(fields.snapshot.requestCounts) : null,
        fields.snapshot?.progress ?? null,
        fields.snapshot?.createdAt ?? null,
        fields.snapshot?.endedAt ?? null,
        fields.snapshot?.expiresAt ?? null,
        fields.snapshot ? JSON.stringify(fields.snapshot.raw) : null,
        fields.snapshot?.detail ? JSON.stringify(fields.snapshot.detail) : null,
        results ? JSON.stringify(results) : null,
      ],
    );
    if (!job) return { settled: false, deliveryIds: [], eventIds: [] };

    await recordJobEvent(
      tx,
      job.id,
      "settled",
      { outcome: job.outcome, status: job.status, reason: job.settle_reason, by: settlement.by, ...(settlement.by === "watcher" ? { message: settlement.message } : {}) },
      at,
    );
    const settledEvent = batchSettledEvent({
      jobId: job.id,
      provider: job.provider,
      kind: job.kind,
      batchId: job.batch_id,
      outcome: job.outcome!,
      status: job.status,
      reason: job.settle_reason,
      type: eventTypeFor(job.kind, job.outcome!, job.provider_status),
      ...(results ? { results } : {}),
    });
    await enqueueEvents(tx, [settledEvent]);
    const deliveries = await createDeliveriesFor(tx, job, "settled");
    // The last batch of a group to settle settles the group, in this transaction (lib/settle/groups.ts).
    const groupEvents = await settleGroupsOf(tx, job.id);
    return {
      settled: true,
      deliveryIds: deliveries.deliveryIds,
      eventIds: [settledEvent.id, ...deliveries.eventIds, ...groupEvents.map((event) => event.id)],
    };
  });
  await flushOutbox(db, result.eventIds, send);
  return { settled: result.settled, deliveryIds: result.deliveryIds };
}

/** What the requests of a batch the provider calls completed came to (honest outcomes); null otherwise. */
async function outcomeResultsFor(db: Database, jobId: string, settlement: Settlement): Promise<OutcomeResults | null> {
  if (settlement.by === "watcher" || settlement.snapshot.kind !== "batch" || settlement.snapshot.status !== "completed") return null;
  const [job] = await db.query<Pick<JobRow, "tracked_at" | "eval_id" | "settled_at">>(
    "SELECT tracked_at, eval_id, settled_at FROM jobs WHERE id = $1",
    [jobId],
  );
  if (!job || job.settled_at) return null;
  const adapter = getProvider(settlement.snapshot.provider);
  return readOutcomeResults(adapter, settlement.snapshot, { kind: "batch", trackedAt: job.tracked_at.getTime() }, now);
}

function settlementFields(settlement: Settlement): {
  outcome: Outcome;
  status: UnifiedStatus;
  reason: SettleReason | null;
  snapshot: UnifiedSnapshot | null;
} {
  if (settlement.by === "watcher") {
    return { outcome: "failed", status: "failed", reason: settlement.reason, snapshot: settlement.lastSnapshot ?? null };
  }
  const status = settlement.snapshot.status;
  if (!isTerminal(status)) throw new Error(`cannot settle on non-terminal status ${status}`);
  return { outcome: status, status, reason: null, snapshot: settlement.snapshot };
}
