import { readConfig } from "@/lib/config";
import type { Database, Queryable } from "@/lib/db";
import { now } from "@/lib/clock";
import { stepRetrySpanMs } from "@/lib/engine-backoff";
import { getJob, recordJobEvent, type JobRow } from "@/lib/jobs/store";
import { type OutgoingEvent, watchRequestedEvent } from "@/lib/events/definitions";
import { enqueueEvents, type EventSender, flushOutbox } from "@/lib/events/outbox";
import { compactObservations, nextPollDelay, type PollObservation } from "@/lib/polling";
import { getProvider, isProviderError, ProviderError } from "@/lib/providers";
import type { ProviderAdapter, UnifiedSnapshot } from "@/lib/providers/types";
import { settleJob } from "@/lib/settle/settlement";
import { createStallNotices } from "@/lib/deliver/create-deliveries";
import { type StoredStall, stallTransition } from "./stall";

/** Retries of one poll step: the watcher declares these (`watch-batch`'s `retries`), and the lease is sized for them. */
export const WATCH_POLL_RETRIES = 6;
/** A provider's Retry-After is honoured up to this long per retry, so a poll's retries stay within the lease. */
export const PROVIDER_RETRY_AFTER_CAP_MS = 2 * 60_000;
/** What a poll step does besides its provider request (database reads and writes), at most. */
const POLL_STEP_OVERHEAD_MS = 30_000;
/** A late wake-up of the engine after a sleep, or a slow start of the first poll after the claim. */
const WAKE_SLACK_MS = 2 * 60_000;

/**
 * How long past its expected next wake a watcher may be silent before it is presumed lost: longer
 * than the next poll step's whole retry span under the engine's backoff (lib/engine-backoff.ts),
 * so a provider outage never makes the reconciler start a second watcher while the first still
 * retries. About 33 minutes with the default 30 s provider timeout.
 */
export function watchLeaseGraceMs(providerTimeoutMs: number = readConfig().providerTimeoutMs): number {
  return (
    stepRetrySpanMs(WATCH_POLL_RETRIES, {
      attemptMs: providerTimeoutMs + POLL_STEP_OVERHEAD_MS,
      retryAfterCapMs: PROVIDER_RETRY_AFTER_CAP_MS,
    }) + WAKE_SLACK_MS
  );
}
/** How long a batch may stay unknown to its provider before the watch settles as `not_found`. */
export const NOT_FOUND_GRACE_MS = 10 * 60_000;
const NOT_FOUND_RETRY_MS = 60_000;
/** Added to the provider's completion window before a watch gives up with `watch_timeout`. */
export const WATCH_DEADLINE_MARGIN_MS = 2 * 3_600_000;
/** A native webhook counts as live when one arrived within this window. */
const NATIVE_SIGNAL_FRESHNESS_MS = 7 * 24 * 3_600_000;

/**
 * Polls per run before the watch continues in a fresh run (BATCHWATCH_POLLS_PER_RUN). Each poll
 * costs two steps (poll and sleep), so the default 200 keeps a run far below Inngest's 1,000-step limit.
 */
export function pollsPerRun(): number {
  return readConfig().pollsPerRun;
}

/**
 * Claims the right to watch a job: a compare-and-set that bumps its watch generation when no live
 * watcher holds the lease. Returns the event that starts the new watcher, or null if one is live.
 */
export async function claimWatch(tx: Queryable, job: JobRow, at: number): Promise<OutgoingEvent | null> {
  const [claimed] = await tx.query<{ watch_generation: number }>(
    `UPDATE jobs SET watch_generation = watch_generation + 1, watch_lease_until = $2, updated_at = $3
     WHERE id = $1 AND settled_at IS NULL AND (watch_lease_until IS NULL OR watch_lease_until < $3)
     RETURNING watch_generation`,
    [job.id, new Date(at + watchLeaseGraceMs()), new Date(at)],
  );
  if (!claimed) return null;
  await recordJobEvent(tx, job.id, "watch_started", { generation: claimed.watch_generation }, new Date(at));
  return watchRequestedEvent({ jobId: job.id, provider: job.provider, generation: claimed.watch_generation, continuation: 0 });
}

export type PollDecision =
  | { action: "stop"; why: "missing" | "settled" | "superseded" | "settled_now" }
  | { action: "sleep"; delayMs: number; status: string };

/**
 * One poll of the watcher, re-reading the job first: a run whose generation is stale, or whose job
 * has settled meanwhile (a native signal), stops. Retryable provider errors are thrown for the
 * durable layer to retry (a `ProviderError` with `rate_limited` carries `retryAfterMs`).
 */
export async function pollOnce(
  db: Database,
  watch: { jobId: string; generation: number },
  send: EventSender,
): Promise<PollDecision> {
  const job = await getJob(db, watch.jobId);
  if (!job) return { action: "stop", why: "missing" };
  if (job.settled_at) return { action: "stop", why: "settled" };
  if (job.watch_generation !== watch.generation) return { action: "stop", why: "superseded" };

  const at = now();
  const adapter = getProvider(job.provider);
  const deadline = watchDeadline(job, adapter);
  const timeOut = (lastSnapshot: UnifiedSnapshot | null) =>
    settleJob(db, job.id, { by: "watcher", reason: "watch_timeout", message: "the provider's completion window passed without a terminal status", lastSnapshot }, send);

  // Always ask the provider first: a batch that ended just before the deadline must settle with
  // its real outcome, not as a timeout.
  let snapshot: UnifiedSnapshot;
  try {
    snapshot = await retrieveSnapshot(job, adapter);
  } catch (error) {
    if (!isProviderError(error)) throw error;
    if (at > deadline && error.retryable) {
      await timeOut(null);
      return { action: "stop", why: "settled_now" };
    }
    return handlePollError(db, job, error, at, send);
  }

  if (snapshot.terminal) {
    await settleJob(db, job.id, { by: "poll", snapshot }, send);
    return { action: "stop", why: "settled_now" };
  }
  if (at > deadline) {
    await timeOut(snapshot);
    return { action: "stop", why: "settled_now" };
  }
  const delayMs = await recordObservation(db, job, snapshot, at, deadline, await nativeSignalsLive(db, adapter, at), send);
  return { action: "sleep", delayMs, status: snapshot.status };
}

/** Asks the provider where a job stands, with what its kind needs to find it. */
export function retrieveSnapshot(job: JobRow, adapter: ProviderAdapter = getProvider(job.provider)): Promise<UnifiedSnapshot> {
  return adapter.retrieve(job.batch_id, {
    kind: job.kind,
    ...(job.eval_id ? { evalId: job.eval_id } : {}),
    trackedAt: job.tracked_at.getTime(),
  });
}

async function handlePollError(
  db: Database,
  job: JobRow,
  error: ProviderError,
  at: number,
  send: EventSender,
): Promise<PollDecision> {
  await recordJobEvent(db, job.id, "poll_error", { code: error.code, message: error.message }, new Date(at));
  switch (error.code) {
    case "credentials":
    case "not_enabled":
      await settleJob(db, job.id, { by: "watcher", reason: "credentials", message: error.message }, send);
      return { action: "stop", why: "settled_now" };
    case "not_found":
    case "unsupported": {
      const since = job.not_found_since?.getTime() ?? at;
      if (at - since >= NOT_FOUND_GRACE_MS) {
        await settleJob(db, job.id, { by: "watcher", reason: "not_found", message: error.message }, send);
        return { action: "stop", why: "settled_now" };
      }
      // A batch just created may not be readable yet everywhere: look again shortly.
      await db.query(
        `UPDATE jobs SET not_found_since = $2, next_poll_at = $3, watch_lease_until = $4, updated_at = $5
         WHERE id = $1 AND settled_at IS NULL AND watch_generation = $6`,
        [job.id, new Date(since), new Date(at + NOT_FOUND_RETRY_MS), new Date(at + NOT_FOUND_RETRY_MS + watchLeaseGraceMs()), new Date(at), job.watch_generation],
      );
      return { action: "sleep", delayMs: NOT_FOUND_RETRY_MS, status: "not_found" };
    }
    default:
      throw error;
  }
}

async function recordObservation(
  db: Database,
  job: JobRow,
  snapshot: UnifiedSnapshot,
  at: number,
  deadline: number,
  nativeSignals: boolean,
  send: EventSender,
): Promise<number> {
  const observation: PollObservation = {
    at,
    status: snapshot.status,
    requestCounts: snapshot.requestCounts
      ? { total: snapshot.requestCounts.total, completed: snapshot.requestCounts.completed, failed: snapshot.requestCounts.failed }
      : null,
    progress: snapshot.progress,
  };
  // Kept per job: the ends of every flat run, which is all the poll schedule reads.
  const observations = compactObservations([...(job.observations ?? []), observation]);
  const scheduled = nextPollDelay({
    trackedAt: job.tracked_at.getTime(),
    now: at,
    nativeSignals,
    ...(snapshot.createdAt ? { createdAt: Date.parse(snapshot.createdAt) } : {}),
    ...(snapshot.expiresAt ? { expiresAt: Date.parse(snapshot.expiresAt) } : {}),
    observations,
  });
  // Wake no later than just past the deadline, so a watch that can never end still ends.
  const delayMs = Math.max(1_000, Math.min(scheduled, deadline - at + 1_000));
  const nextPollAt = new Date(at + delayMs);
  // Stuck-batch alerts from the same evidence, on this poll (lib/watch/stall.ts).
  const stall = stallTransition((job.stall as StoredStall | null) ?? null, job.stall_count ?? 0, {
    provider: job.provider,
    trackedAt: job.tracked_at.getTime(),
    now: at,
    ...(snapshot.createdAt ? { createdAt: Date.parse(snapshot.createdAt) } : {}),
    ...(snapshot.expiresAt ? { expiresAt: Date.parse(snapshot.expiresAt) } : {}),
    observations,
  });
  const noticeEventIds = await db.transaction(async (tx) => {
    const updated = await tx.query(
      `UPDATE jobs SET status = $3, provider_status = $4, request_counts = $5::jsonb, progress = $6,
         provider_created_at = $7, provider_ended_at = $8, expires_at = $9, raw = $10::jsonb, detail = $11::jsonb,
         poll_count = poll_count + 1, last_polled_at = $12, next_poll_at = $13, observations = $14::jsonb,
         not_found_since = NULL, watch_lease_until = $15, updated_at = $12
       WHERE id = $1 AND watch_generation = $2 AND settled_at IS NULL
       RETURNING id`,
      [
        job.id,
        job.watch_generation,
        snapshot.status,
        snapshot.providerStatus,
        snapshot.requestCounts ? JSON.stringify(snapshot.requestCounts) : null,
        snapshot.progress,
        snapshot.createdAt,
        snapshot.endedAt,
        snapshot.expiresAt,
        JSON.stringify(snapshot.raw),
        snapshot.detail ? JSON.stringify(snapshot.detail) : null,
        new Date(at),
        nextPollAt,
        JSON.stringify(observations),
        new Date(at + delayMs + watchLeaseGraceMs()),
      ],
    );
    if (updated.length === 0) return [];
    await recordJobEvent(
      tx,
      job.id,
      "polled",
      { status: snapshot.status, providerStatus: snapshot.providerStatus, requestCounts: snapshot.requestCounts, nextPollAt: nextPollAt.toISOString(), nativeSignals },
      new Date(at),
    );
    if (!stall.notice) return [];
    const { notice } = stall;
    await tx.query("UPDATE jobs SET stall = $2::jsonb, stall_count = GREATEST(stall_count, $3) WHERE id = $1", [
      job.id,
      stall.stall ? JSON.stringify(stall.stall) : null,
      notice.stall.number,
    ]);
    await recordJobEvent(
      tx,
      job.id,
      notice.type === "batch.stalled" ? "stalled" : "resumed",
      { kind: notice.stall.kind, since: new Date(notice.stall.since).toISOString(), number: notice.stall.number },
      new Date(at),
    );
    const current = {
      ...job,
      status: snapshot.status,
      provider_status: snapshot.providerStatus,
      request_counts: snapshot.requestCounts,
    };
    return (await createStallNotices(tx, current, notice)).map((event) => event.id);
  });
  await flushOutbox(db, noticeEventIds, send);
  return delayMs;
}

/** When a watch gives up: the provider's completion window for the kind, plus a margin. */
export function watchDeadline(job: Pick<JobRow, "kind" | "tracked_at" | "provider_created_at">, adapter: ProviderAdapter): number {
  const windowMs = adapter.completionWindowMsByKind?.[job.kind] ?? adapter.completionWindowMs;
  const start = Math.min(job.tracked_at.getTime(), job.provider_created_at?.getTime() ?? Number.POSITIVE_INFINITY);
  return start + windowMs + WATCH_DEADLINE_MARGIN_MS;
}

/**
 * Native signals are live for a provider when its webhook secret is set and a verified event from
 * it arrived recently (webhooks are configured per provider project, so a secret alone proves
 * nothing). Then polling is only the safety net.
 */
export async function nativeSignalsLive(db: Queryable, adapter: ProviderAdapter, at: number): Promise<boolean> {
  if (!adapter.nativeWebhooks) return false;
  const config = readConfig();
  const secret = adapter.name === "openai" ? config.openaiWebhookSecret : adapter.name === "gemini" ? config.geminiWebhookSecret : undefined;
  if (!secret) return false;
  // The newest event of this source: one probe at the end of inbound_events (source, received_at).
  // Written so that only that index gives the order (`= ANY` keeps source in the ORDER BY): asked
  // "any since then?" or max(), the planner walked inbound_events_received backwards through every
  // other source's events instead (17 ms at 1M jobs while Gemini's signals were quiet; now 0.1 ms).
  const [latest] = await db.query<{ received_at: Date | string }>(
    "SELECT received_at FROM inbound_events WHERE source = ANY($1::text[]) ORDER BY source DESC, received_at DESC LIMIT 1",
    [[adapter.name]],
  );
  return latest !== undefined && new Date(latest.received_at).getTime() > at - NATIVE_SIGNAL_FRESHNESS_MS;
}

/** Hands a long watch to a fresh run (same generation, next continuation), keeping its history in the job row. */
export async function continueWatch(
  db: Database,
  watch: { jobId: string; generation: number; continuation: number },
  send: EventSender,
): Promise<boolean> {
  const job = await getJob(db, watch.jobId);
  if (!job || job.settled_at || job.watch_generation !== watch.generation) return false;
  const event = watchRequestedEvent({
    jobId: job.id,
    provider: job.provider,
    generation: watch.generation,
    continuation: watch.continuation + 1,
  });
  await enqueueEvents(db, [event]);
  await flushOutbox(db, [event.id], send);
  return true;
}

/** The reconciler's half for watchers: every unsettled job whose watcher went silent gets a new one. */
export async function reviveLostWatchers(db: Database, send: EventSender): Promise<string[]> {
  const at = now();
  // Never leased first, then the oldest expired leases: two ranges of jobs_unsettled_lease, read in
  // its order, so a pass reads what it revives rather than every running job. (The first range's
  // ORDER BY changes nothing but keeps the planner on that index: any index of unsettled jobs
  // looked as good to it, and jobs_unsettled_next_poll meant reading every running job.)
  const candidates = await db.query<JobRow>(
    `(SELECT * FROM jobs WHERE settled_at IS NULL AND watch_lease_until IS NULL AND tracked_at < $2
      ORDER BY watch_lease_until DESC NULLS FIRST LIMIT 200)
     UNION ALL
     (SELECT * FROM jobs WHERE settled_at IS NULL AND watch_lease_until < $1 AND tracked_at < $2 ORDER BY watch_lease_until LIMIT 200)
     LIMIT 200`,
    [new Date(at), new Date(at - 2 * 60_000)],
  );
  const revived: string[] = [];
  for (const job of candidates) {
    const event = await db.transaction(async (tx) => {
      const claimed = await claimWatch(tx, job, at);
      if (claimed) await enqueueEvents(tx, [claimed]);
      return claimed;
    });
    if (!event) continue;
    await flushOutbox(db, [event.id], send);
    revived.push(job.id);
  }
  return revived;
}

