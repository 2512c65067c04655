import { z } from "zod";
import { readConfig } from "@/lib/config";
import type { Database, Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { parseOrThrow } from "@/lib/http";
import { storableJson, storableString } from "@/lib/storable";
import { sendAfterResponse } from "@/lib/events/dispatch";
import { getJob, recordJobEvent, type JobRow, type SubscriptionRow } from "@/lib/jobs/store";
import { type BatchTrackedData, batchTrackedEvent, type OutgoingEvent, signalReceivedEvent } from "@/lib/events/definitions";
import { enqueueEvents, type EventSender, flushOutbox } from "@/lib/events/outbox";
import { canonicalBatchId, getProvider, isProviderName, ProviderError } from "@/lib/providers";
import { JOB_KINDS, type JobKind, type ProviderName } from "@/lib/providers/types";
import { validateWebhookUrl } from "@/lib/security/destination-policy";
import { now, nowDate } from "@/lib/clock";
import { createDeliveriesFor } from "@/lib/deliver/create-deliveries";
import { claimWatch } from "@/lib/watch/watching";
import { joinGroup } from "@/lib/settle/groups";
import { eventFilterSchema } from "@/lib/deliver/event-filter";
import type { SubscribableEventType } from "@/lib/deliver/unified-event";

/** The most metadata a subscription may carry; it is copied into every delivered event. */
export const MAX_METADATA_BYTES = 4 * 1024;

export const trackInputSchema = z
  .object({
    provider: z.string(),
    batchId: storableString().trim().min(1, "is required").max(512),
    kind: z.enum(JOB_KINDS, { message: `must be one of ${JOB_KINDS.join(", ")}` }).optional(),
    evalId: storableString().trim().min(1).max(512).optional(),
    webhookUrl: storableString().max(2048).optional(),
    endpoint: storableString().trim().min(1).max(100).optional(),
    // Also reached from `batch/tracked` events, not only through readJsonBody: checked here too.
    metadata: storableJson(z.record(z.string(), z.unknown())).optional(),
    /** The event types this subscription receives (docs/api.md#event-filters). */
    events: eventFilterSchema.optional(),
    /** The job group this batch joins (docs/api.md#job-groups). */
    group: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export type TrackInput = z.infer<typeof trackInputSchema>;

export interface Destination {
  webhookUrl?: string;
  endpointId?: string;
  /** The endpoint's default event filter, for the view of the subscription. */
  endpointEvents?: string[] | null;
}

/** What a subscription is recorded from (a validated request, or a user's batch/tracked event). */
export interface SubscriptionRequest {
  provider: ProviderName;
  kind: JobKind;
  batchId: string;
  evalId?: string;
  metadata?: Record<string, unknown>;
  events?: readonly SubscribableEventType[];
  group?: string;
}

export interface TrackingResult {
  created: boolean;
  job: JobRow;
  subscription: SubscriptionRow & { endpoint_events?: string[] | null };
}

/**
 * Tracks a batch for one destination, as `POST /api/batches` does: validates everything first (so
 * nothing is half-written), records the job, the subscription and its `batch/tracked` event in the
 * outbox in one transaction, and sends the event through `send` after the answer (see
 * lib/events/dispatch.ts), so tracking never waits on Inngest: a failed send delays the watch and
 * loses nothing. Never waits on the provider: a batch id it does not know settles later as
 * `not_found`.
 */
export async function trackBatch(
  db: Database,
  input: unknown,
  send: EventSender,
): Promise<TrackingResult> {
  const request = validateTrackInput(input);
  const destination = await resolveDestination(db, request);
  // Joining a job group takes the group's row lock after the job's: that is the transaction's path.
  const subscribed = request.group ? null : await recordNewSubscription(db, { ...request, kind: request.kind ?? "batch" }, destination);
  if (subscribed) {
    await sendAfterResponse(db, [subscribed.event], send);
    return { created: true, job: subscribed.job, subscription: { ...subscribed.subscription, endpoint_events: destination.endpointEvents ?? null } };
  }
  // This destination is tracked already (or was untracked), or the batch joins a group: one transaction.
  const recorded = await db.transaction(async (tx) => {
    const result = await recordSubscription(tx, { ...request, kind: request.kind ?? "batch" }, destination);
    const event = batchTrackedEvent(
      {
        provider: result.job.provider,
        kind: result.job.kind,
        batchId: result.job.batch_id,
        ...(result.job.eval_id ? { evalId: result.job.eval_id } : {}),
        ...(request.events ? { events: request.events } : {}),
        ...(request.group ? { group: request.group } : {}),
        subscriptionId: result.subscription.id,
      },
      { reactivated: result.reactivated },
    );
    await enqueueEvents(tx, [event]);
    return { ...result, event };
  });
  await sendAfterResponse(db, [recorded.event, ...recorded.groupEvents], send);
  return {
    created: recorded.created,
    job: recorded.job,
    subscription: { ...recorded.subscription, endpoint_events: destination.endpointEvents ?? null },
  };
}

/** The batch/tracked event of a new subscription (its data from the job, as Inngest receives it). */
function newSubscriptionEvent(
  job: Pick<JobRow, "provider" | "kind" | "batch_id" | "eval_id">,
  subscriptionId: string,
  events: readonly SubscribableEventType[] | null | undefined,
) {
  return batchTrackedEvent(
    {
      provider: job.provider,
      kind: job.kind,
      batchId: job.batch_id,
      ...(job.eval_id ? { evalId: job.eval_id } : {}),
      ...(events ? { events: [...events] } : {}),
      subscriptionId,
    },
    { reactivated: false },
  );
}

/**
 * The common case of tracking in one statement, so one round trip and one commit: the job
 * (recorded once per provider, kind and batch id), a new subscription for this destination, their
 * `tracked` / `subscribed` job events, and the subscription's batch/tracked event in the outbox.
 * Returns null, having written nothing, when the destination is subscribed already; then
 * {@link recordSubscription}'s transaction handles it (returning or re-enabling it).
 */
async function recordNewSubscription(
  db: Queryable,
  request: SubscriptionRequest,
  destination: Destination,
): Promise<{ job: JobRow; subscription: SubscriptionRow; event: OutgoingEvent } | null> {
  // The event is checked before anything is written (its subscription id is not known yet).
  newSubscriptionEvent(
    { provider: request.provider, kind: request.kind, batch_id: request.batchId, eval_id: request.evalId ?? null },
    "00000000-0000-4000-8000-000000000000",
    request.events,
  );
  const destinationKey = destination.endpointId ? `endpoint:${destination.endpointId}` : `url:${destination.webhookUrl}`;
  const rows = await db.query<JobRow & { inserted?: boolean } & Record<`sub_${string}`, unknown>>(
    `WITH job AS (
       INSERT INTO jobs (provider, kind, batch_id, eval_id, tracked_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (provider, kind, batch_id) DO UPDATE SET eval_id = COALESCE(jobs.eval_id, EXCLUDED.eval_id)
       RETURNING *, (xmax = 0) AS inserted
     ), sub AS (
       INSERT INTO subscriptions (job_id, destination_key, webhook_url, endpoint_id, metadata, created_at, events, activated_at)
       SELECT job.id, $6, $7, $8, $9, $5, $10::text[], $5 FROM job
       ON CONFLICT (job_id, destination_key) DO NOTHING
       RETURNING *
     ), events AS (
       INSERT INTO job_events (job_id, type, detail, at)
       SELECT e.job_id, e.type, e.detail, $5 FROM (
         SELECT 1 AS ord, job.id AS job_id, 'tracked' AS type, '{}'::jsonb AS detail FROM job, sub WHERE job.inserted
         UNION ALL
         SELECT 2, sub.job_id, 'subscribed', jsonb_build_object('subscriptionId', sub.id, 'destination', $6::text) FROM sub
       ) e ORDER BY e.ord
     ), queued AS (
       INSERT INTO outbox (event_id, name, data, created_at)
       SELECT 'tracked:' || sub.id, 'batch/tracked',
              jsonb_strip_nulls(jsonb_build_object('provider', job.provider, 'kind', job.kind, 'batchId', job.batch_id,
                                                   'evalId', job.eval_id, 'events', to_jsonb(sub.events), 'subscriptionId', sub.id)),
              $5
       FROM job, sub
     )
     SELECT job.*, sub.id AS sub_id, sub.job_id AS sub_job_id, sub.destination_key AS sub_destination_key,
            sub.webhook_url AS sub_webhook_url, sub.endpoint_id AS sub_endpoint_id, sub.metadata AS sub_metadata,
            sub.disabled_at AS sub_disabled_at, sub.disabled_reason AS sub_disabled_reason, sub.created_at AS sub_created_at,
            sub.events AS sub_events, sub.group_key AS sub_group_key, sub.activated_at AS sub_activated_at
     FROM job, sub`,
    [
      request.provider,
      request.kind,
      request.batchId,
      request.evalId ?? null,
      nowDate(),
      destinationKey,
      destination.webhookUrl ?? null,
      destination.endpointId ?? null,
      JSON.stringify(request.metadata ?? {}),
      request.events ? [...request.events] : null,
    ],
  );
  const row = rows[0];
  if (!row) return null;
  const job: Record<string, unknown> = {};
  const subscription: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith("sub_")) subscription[column.slice(4)] = value;
    else if (column !== "inserted") job[column] = value;
  }
  const event = newSubscriptionEvent(job as unknown as JobRow, subscription.id as string, subscription.events as SubscribableEventType[] | null);
  return { job: job as unknown as JobRow, subscription: subscription as unknown as SubscriptionRow, event };
}

/** Checks a tracking request in a fixed order: the provider first, then fields, then the destination. */
export function validateTrackInput(input: unknown): TrackInput & { provider: ProviderName } {
  const provider = (input as { provider?: unknown } | null)?.provider;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new AppError("invalid_request", "body: must be a JSON object");
  }
  if (typeof provider !== "string" || !isProviderName(provider)) {
    throw new AppError(
      "unknown_provider",
      typeof provider === "string" ? `unknown provider "${provider.slice(0, 40)}"` : "provider: is required",
    );
  }
  const parsed = parseOrThrow(trackInputSchema, input);
  const request = { ...parsed, batchId: canonicalBatchId(provider, parsed.batchId) };
  const kind = request.kind ?? "batch";
  if (Boolean(request.webhookUrl) === Boolean(request.endpoint)) {
    throw new AppError("invalid_request", "webhookUrl: give exactly one of webhookUrl and endpoint");
  }
  if (kind === "eval_run" && !request.evalId) {
    throw new AppError("invalid_request", "evalId: is required for kind eval_run");
  }
  if (request.metadata && Buffer.byteLength(JSON.stringify(request.metadata)) > MAX_METADATA_BYTES) {
    throw new AppError("payload_too_large", `metadata: must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }
  const adapter = getProvider(provider);
  if (!adapter.supportedKinds.includes(kind)) {
    throw new AppError("invalid_request", `kind: ${provider} does not support kind "${kind}"`);
  }
  try {
    adapter.assertConfigured();
  } catch (error) {
    if (error instanceof ProviderError) throw new AppError("provider_not_configured", error.message);
    throw error;
  }
  return { ...request, provider };
}

async function resolveDestination(db: Queryable, request: TrackInput): Promise<Destination> {
  if (request.endpoint) {
    const rows = await db.query<{ id: string; events: string[] | null }>("SELECT id, events FROM endpoints WHERE name = $1", [
      request.endpoint,
    ]);
    if (!rows[0]) throw new AppError("not_found", `endpoint "${request.endpoint}" does not exist`);
    return { endpointId: rows[0].id, endpointEvents: rows[0].events };
  }
  const config = readConfig();
  if (!config.defaultWebhookSecret) {
    throw new AppError(
      "not_configured",
      "webhookUrl: BATCH_WEBHOOK_SECRET is not set, so deliveries to a webhookUrl could never be signed: set it (whsec_…), or track to a named endpoint with `endpoint`",
    );
  }
  const url = await validateWebhookUrl(request.webhookUrl!, { allowPrivate: config.allowPrivateWebhooks });
  return { webhookUrl: url.toString() };
}

/**
 * Records the job (once per provider, kind and batch id) and the subscription (once per
 * destination). Tracking again returns the existing subscription, re-enabled if it was untracked.
 */
export async function recordSubscription(
  tx: Queryable,
  request: SubscriptionRequest,
  destination: Destination,
): Promise<{ created: boolean; reactivated: boolean; job: JobRow; subscription: SubscriptionRow; groupEvents: OutgoingEvent[] }> {
  const at = nowDate();
  const [job] = await tx.query<JobRow & { inserted: boolean }>(
    `INSERT INTO jobs (provider, kind, batch_id, eval_id, tracked_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (provider, kind, batch_id) DO UPDATE SET eval_id = COALESCE(jobs.eval_id, EXCLUDED.eval_id)
     RETURNING *, (xmax = 0) AS inserted`,
    [request.provider, request.kind, request.batchId, request.evalId ?? null, at],
  );
  if (job!.inserted) await recordJobEvent(tx, job!.id, "tracked", {}, at);
  // Read under the job's row lock (the upsert above), so trackings of one batch take turns here.
  const wasInGroup = request.group ? await inGroup(tx, job!.id, request.group) : false;

  const destinationKey = destination.endpointId ? `endpoint:${destination.endpointId}` : `url:${destination.webhookUrl}`;
  const inserted = await tx.query<SubscriptionRow>(
    `INSERT INTO subscriptions (job_id, destination_key, webhook_url, endpoint_id, metadata, created_at, events, group_key, activated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6)
     ON CONFLICT (job_id, destination_key) DO NOTHING
     RETURNING *`,
    [
      job!.id,
      destinationKey,
      destination.webhookUrl ?? null,
      destination.endpointId ?? null,
      JSON.stringify(request.metadata ?? {}),
      at,
      request.events ? [...request.events] : null,
      request.group ?? null,
    ],
  );
  if (inserted[0]) {
    await recordJobEvent(tx, job!.id, "subscribed", { subscriptionId: inserted[0].id, destination: destinationKey }, at);
    const groupEvents = request.group ? await joinGroup(tx, request.group, { newMember: !wasInGroup }) : [];
    return { created: true, reactivated: false, job: stripInserted(job!), subscription: inserted[0], groupEvents };
  }
  const [existing] = await tx.query<SubscriptionRow & { was_disabled: boolean }>(
    // Tracking again re-enables the subscription (active again from now: the reconciler looks for
    // late subscribers by that time); a filter or group given now replaces the one it had.
    `UPDATE subscriptions s SET disabled_at = NULL, disabled_reason = NULL, events = COALESCE($3::text[], s.events),
       group_key = COALESCE($4, s.group_key),
       activated_at = CASE WHEN before.disabled_at IS NOT NULL THEN $5 ELSE s.activated_at END
     FROM subscriptions before WHERE before.id = s.id AND s.job_id = $1 AND s.destination_key = $2
     RETURNING s.*, (before.disabled_at IS NOT NULL) AS was_disabled`,
    [job!.id, destinationKey, request.events ? [...request.events] : null, request.group ?? null, at],
  );
  const { was_disabled: reactivated, ...subscription } = existing!;
  const groupEvents = request.group ? await joinGroup(tx, request.group, { newMember: !wasInGroup }) : [];
  return { created: false, reactivated, job: stripInserted(job!), subscription, groupEvents };
}

/**
 * Whether a job is in a group already. Tracking a batch into a group (lib/settle/groups.ts) makes
 * the group exist; a settled group the batch was not in reopens, and settles again at once if
 * that batch has settled already; a batch already in it changes nothing.
 */
async function inGroup(tx: Queryable, jobId: string, group: string): Promise<boolean> {
  const rows = await tx.query("SELECT 1 FROM subscriptions WHERE job_id = $1 AND group_key = $2 LIMIT 1", [jobId, group]);
  return rows.length > 0;
}

function stripInserted(row: JobRow & { inserted?: boolean }): JobRow {
  const { inserted: _inserted, ...job } = row;
  return job;
}

/**
 * What the `track-batch` function does with a `batch/tracked` event: record the subscription when a
 * user's own app sent the event (no `subscriptionId`), then make sure the job is looked after:
 * an already settled job delivers to the new subscription at once; a pending native signal is
 * replayed; and a watcher is started unless one is live.
 */
export async function handleTrackedEvent(
  db: Database,
  data: BatchTrackedData,
  send: EventSender,
): Promise<{ jobId: string; subscriptionId: string; watchStarted: boolean; deliveriesCreated: number; signalsReplayed: number }> {
  const kind = data.kind ?? "batch";
  const { jobId, subscriptionId } = data.subscriptionId
    ? await loadSubscription(db, data.subscriptionId)
    : await recordFromEvent(db, { ...data, kind }, send);

  const outcome = await db.transaction(async (tx) => {
    const job = await getJob(tx, jobId, { forUpdate: true });
    if (!job) throw new AppError("not_found", `job ${jobId} does not exist`);
    if (job.settled_at) {
      const created = await createDeliveriesFor(tx, job, "subscribed_after_settlement");
      return { eventIds: created.eventIds, watchStarted: false, deliveriesCreated: created.deliveryIds.length, signalsReplayed: 0 };
    }
    const signals = await pendingSignalEvents(tx, job);
    const claim = await claimWatch(tx, job, now());
    const events = [...signals, ...(claim ? [claim] : [])];
    await enqueueEvents(tx, events);
    return { eventIds: events.map((event) => event.id), watchStarted: claim !== null, deliveriesCreated: 0, signalsReplayed: signals.length };
  });
  await flushOutbox(db, outcome.eventIds, send);
  return { jobId, subscriptionId, ...outcome };
}

async function loadSubscription(db: Queryable, subscriptionId: string) {
  const rows = await db.query<{ id: string; job_id: string }>("SELECT id, job_id FROM subscriptions WHERE id = $1", [
    subscriptionId,
  ]);
  if (!rows[0]) throw new AppError("not_found", `subscription ${subscriptionId} does not exist`);
  return { jobId: rows[0].job_id, subscriptionId: rows[0].id };
}

/**
 * A `batch/tracked` event sent by a user's own app has not been validated by our API: check the
 * destination the same way, then record it.
 */
async function recordFromEvent(
  db: Database,
  data: BatchTrackedData & { kind: JobKind },
  send: EventSender,
): Promise<{ jobId: string; subscriptionId: string }> {
  // The same checks as the API (kind, evalId, metadata size, provider configured, one destination).
  const { subscriptionId: _none, ...request } = data;
  validateTrackInput(request);
  const destination = await resolveDestination(db, data);
  const batchId = canonicalBatchId(data.provider, data.batchId);
  const result = await db.transaction((tx) => recordSubscription(tx, { ...data, batchId }, destination));
  await flushOutbox(db, result.groupEvents.map((event) => event.id), send);
  return { jobId: result.job.id, subscriptionId: result.subscription.id };
}

/** Native signals that arrived before the job was tracked are replayed now (invariant 3). */
async function pendingSignalEvents(tx: Queryable, job: JobRow): Promise<OutgoingEvent[]> {
  const rows = await tx.query<{ id: number; source: "openai" | "gemini"; event_type: string }>(
    `SELECT id, source, event_type FROM inbound_events
     WHERE source = $1 AND object_id = $2 AND applied_at IS NULL ORDER BY id`,
    [job.provider, job.batch_id],
  );
  return rows.map((row) =>
    signalReceivedEvent(
      {
        source: row.source,
        provider: job.provider,
        kind: job.kind,
        batchId: job.batch_id,
        inboundEventId: Number(row.id),
        eventType: row.event_type,
      },
      { replayForJob: job.id },
    ),
  );
}

