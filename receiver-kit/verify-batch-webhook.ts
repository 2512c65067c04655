/**
 * # batchwatch receiver kit
 *
 * Verifies and deduplicates the webhooks batchwatch sends when a batch job finishes. They follow
 * the Standard Webhooks specification (https://www.standardwebhooks.com/): headers `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 * several space-separated while secrets rotate). Any Standard Webhooks library verifies them;
 * this file adds the typed event and duplicate detection.
 *
 * ## Vendoring
 *
 * Copy this one file into your project (for example `lib/batchwatch-webhook.ts`). It imports only
 * `node:crypto`, so it needs the Node.js runtime (Node 18+; in Next.js not the Edge runtime) and
 * no packages. Keep the file unmodified so later versions can replace it wholesale.
 *
 * Your endpoint secret looks like `whsec_<base64>`: the part after `whsec_` is base64 of the HMAC
 * key. While you rotate it, pass both the new and the old secret.
 *
 * ## Delivery semantics
 *
 * batchwatch delivers at least once and retries on any non-2xx answer with the same `webhook-id`.
 * {@link verifyBatchWebhook} claims the id in a {@link ReplayStore} before you process it:
 * - first delivery: `duplicate: false`; call `ack()` when processed, or `release()` when
 *   processing failed (then answer 5xx, and the retry is treated as new);
 * - an id already acknowledged: `duplicate: true`; answer 2xx without processing again;
 * - an id another worker is processing right now: a {@link BatchWebhookError} `in_progress`
 *   (answer 409: batchwatch retries later). A claim that is never acked nor released (crash)
 *   lapses after its lease, and the next retry is treated as new.
 *
 * The default store is in memory (one process). With several instances or serverless functions,
 * use {@link createPostgresReplayStore} so every instance sees the same claims.
 *
 * ## Usage (Next.js App Router)
 *
 * ```ts
 * // app/api/batchwatch/route.ts
 * import { Pool } from "pg";
 * import {
 *   BatchWebhookError,
 *   createPostgresReplayStore,
 *   createReplayTable,
 *   verifyBatchWebhook,
 * } from "@/lib/batchwatch-webhook";
 *
 * export const runtime = "nodejs";
 *
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const replayStore = createPostgresReplayStore(pool); // run createReplayTable(pool) once, e.g. in a migration
 * // "whsec_new whsec_old" while rotating
 * const secrets = (process.env.BATCH_WEBHOOK_SECRET ?? "").split(" ").filter(Boolean);
 *
 * export async function POST(request: Request) {
 *   let delivery;
 *   try {
 *     delivery = await verifyBatchWebhook(request, secrets, { replayStore });
 *   } catch (error) {
 *     if (error instanceof BatchWebhookError) {
 *       return Response.json({ error: error.code }, { status: error.status });
 *     }
 *     throw error;
 *   }
 *   if (delivery.duplicate) return new Response(null, { status: 204 });
 *
 *   try {
 *     const { event } = delivery;
 *     if (event.type === "batch.completed") await importResults(event.provider, event.id);
 *     else if (event.type === "webhook.test") console.log(`test from ${event.endpoint}`);
 *     else if (event.type === "batch.stalled") await page(`${event.id} stuck since ${event.stall.since}`); // opt-in
 *     await delivery.ack();
 *     return new Response(null, { status: 204 });
 *   } catch (error) {
 *     await delivery.release(); // the retry will be processed as new
 *     console.error(error);
 *     return new Response(null, { status: 500 });
 *   }
 * }
 * ```
 *
 * Read nothing from the request before calling {@link verifyBatchWebhook}: it needs the raw body
 * exactly as sent, and a re-serialised JSON body would not verify.
 */

import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

/** Known today: batch.*, response.completed|failed|cancelled|incomplete,
 * fine_tuning.job.succeeded|failed|cancelled, eval.run.succeeded|failed|canceled. */
export type JobEventType =
  | "batch.completed"
  | "batch.failed"
  | "batch.expired"
  | "batch.cancelled"
  | `response.${string}`
  | `fine_tuning.job.${string}`
  | `eval.run.${string}`;

export interface RequestCounts {
  total: number;
  /** Requests that succeeded. */
  completed: number;
  /** Requests that failed. */
  failed: number;
  cancelled?: number;
  expired?: number;
  processing?: number;
  [count: string]: number | undefined;
}

/** One finished job (batch, background response, fine-tuning job, eval run), the same shape for every provider. */
export interface JobFinishedEvent {
  type: JobEventType;
  /** The provider's own id of the job. */
  id: string;
  /** e.g. "openai", "anthropic", "gemini", "mistral". */
  provider: string;
  /** "batch", "response", "fine_tuning_job" or "eval_run". */
  kind: string;
  /** The unified (OpenAI batch) status: "completed", "failed", "expired" or "cancelled". */
  status: string;
  /** The provider's own status word, unmapped; null when unknown. */
  providerStatus: string | null;
  /** Why batchwatch itself ended the watch as failed (e.g. "watch_timeout"); null otherwise. */
  reason: string | null;
  /** Null when the provider reports no counts: counts are never invented. */
  requestCounts: RequestCounts | null;
  /** ISO 8601, or null when unknown. */
  createdAt: string | null;
  /** ISO 8601, or null when unknown. */
  endedAt: string | null;
  /** The metadata given when the job was tracked. */
  metadata: Record<string, unknown>;
  /** Provider-specific extras (output/error file ids, error messages). */
  detail?: Record<string, unknown> | null;
  /**
   * On `batch.completed` only: what its requests came to. A provider says "completed" once it has
   * processed every request, even if all of them failed — check `results.verdict`.
   */
  results?: BatchResults;
}

/** What the requests of a completed batch came to. */
export interface BatchResults {
  /** "all_succeeded", "partly_failed", "all_failed", "no_requests" or "unknown" (no counts). */
  verdict: string;
  /** Why, e.g. "every_request_failed", "no_output_file", "some_requests_failed". */
  reason: string;
  /** The most common error among the failed results read (a bounded read); null when none was read. */
  commonError: { code: string | null; message: string; count: number } | null;
  /** How many failed results `commonError` was counted over. */
  errorsRead: number;
}

/** Sent from the dashboard or API to check an endpoint before any job ends. */
export interface WebhookTestEvent {
  type: "webhook.test";
  /** The endpoint's name. */
  endpoint: string;
  /** ISO 8601. */
  sentAt: string;
}

/** What a stall notice says about the stall. */
export interface StallInfo {
  /** "no_progress", "stuck_in_phase" (validating / finalizing) or "past_window". */
  kind: string;
  /** ISO 8601: when it stopped moving. */
  since: string;
  /** 1 for the job's first stall, 2 for the next…; one batch.stalled and at most one batch.resumed each. */
  number: number;
}

/** Opt-in (`events`): a running batch stopped moving for far longer than its history predicts. */
export interface BatchStalledEvent {
  type: "batch.stalled";
  id: string;
  provider: string;
  kind: string;
  status: string;
  providerStatus: string | null;
  stall: StallInfo & { forMs: number; expectedMs: number | null };
  requestCounts: RequestCounts | null;
  /** ISO 8601. */
  detectedAt: string;
  metadata: Record<string, unknown>;
}

/** Opt-in (`events`): a stalled batch moved again. */
export interface BatchResumedEvent {
  type: "batch.resumed";
  id: string;
  provider: string;
  kind: string;
  status: string;
  providerStatus: string | null;
  stall: StallInfo;
  stalledForMs: number;
  /** ISO 8601. */
  resumedAt: string;
  requestCounts: RequestCounts | null;
  metadata: Record<string, unknown>;
}

/** One batch of a settled group. */
export interface GroupBatch {
  id: string;
  provider: string;
  kind: string;
  /** "completed", "failed", "expired" or "cancelled". */
  outcome: string;
  reason: string | null;
  requestCounts: RequestCounts | null;
  results?: BatchResults;
  endedAt: string | null;
}

/** Every batch tracked with the same `group` has settled (sent to subscribers that gave the group, by default). */
export interface GroupSettledEvent {
  type: "group.settled";
  group: string;
  /** 1, then 2… when a batch joined after the group settled and it settled again (a new webhook-id each time). */
  settlement: number;
  /** ISO 8601. */
  settledAt: string;
  totals: {
    batches: number;
    outcomes: Record<string, number>;
    requests: { total: number; completed: number; failed: number } | null;
  };
  batches: GroupBatch[];
  metadata: Record<string, unknown>;
}

/** What a batchwatch webhook carries; narrow on `type`. */
export type BatchWebhookEvent = JobFinishedEvent | WebhookTestEvent | BatchStalledEvent | BatchResumedEvent | GroupSettledEvent;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

export type BatchWebhookErrorCode = "invalid_signature" | "stale_timestamp" | "invalid_payload" | "in_progress";

const STATUS_BY_CODE: Record<BatchWebhookErrorCode, number> = {
  invalid_signature: 401,
  stale_timestamp: 401,
  invalid_payload: 400,
  in_progress: 409,
};

/** Every refusal of {@link verifyBatchWebhook}; `status` is the HTTP status to answer with. */
export class BatchWebhookError extends Error {
  readonly code: BatchWebhookErrorCode;

  constructor(code: BatchWebhookErrorCode, message: string) {
    super(message);
    this.name = "BatchWebhookError";
    this.code = code;
  }

  get status(): number {
    return STATUS_BY_CODE[this.code];
  }
}

// ---------------------------------------------------------------------------------------------
// Replay stores
// ---------------------------------------------------------------------------------------------

export type ReplayClaim =
  | { status: "claimed"; token: string }
  | { status: "duplicate" }
  | { status: "in_progress" };

/**
 * Remembers which webhook ids were processed. `claim` must be atomic: of two concurrent claims of
 * one id, only one may get `"claimed"`. `token` ties `complete`/`release` to the claim that took
 * it, so a worker whose lease lapsed cannot finish or free another worker's claim.
 */
export interface ReplayStore {
  claim(webhookId: string): Promise<ReplayClaim>;
  /** Marks the id processed: later deliveries of it are duplicates until the record expires. */
  complete(webhookId: string, token: string): Promise<void>;
  /** Frees the claim after a failure, so the next delivery of the id is processed as new. */
  release(webhookId: string, token: string): Promise<void>;
}

export interface ReplayStoreOptions {
  /** How long a processed id is remembered. Default 7 days, longer than batchwatch retries. */
  ttlMs?: number;
  /** How long a claim lasts without ack/release before a retry may take it. Default 5 minutes. */
  leaseMs?: number;
  /** Clock in milliseconds (Date.now by default); for tests. */
  now?: () => number;
}

const DEFAULT_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const DEFAULT_LEASE_MS = 5 * 60 * 1000;

type MemoryRecord =
  | { state: "processing"; token: string; leaseUntil: number }
  | { state: "done"; expiresAt: number };

/** A single-process store. Expired records are swept as claims arrive. */
export function createMemoryReplayStore(options: ReplayStoreOptions = {}): ReplayStore {
  const { ttlMs = DEFAULT_TTL_MS, leaseMs = DEFAULT_LEASE_MS, now = Date.now } = options;
  const records = new Map<string, MemoryRecord>();
  let nextSweepAt = 0;

  const isLive = (record: MemoryRecord, at: number) =>
    record.state === "processing" ? record.leaseUntil > at : record.expiresAt > at;

  const sweep = (at: number) => {
    if (at < nextSweepAt) return;
    nextSweepAt = at + 60_000;
    for (const [id, record] of records) if (!isLive(record, at)) records.delete(id);
  };

  return {
    async claim(webhookId) {
      const at = now();
      sweep(at);
      const existing = records.get(webhookId);
      if (existing && isLive(existing, at)) {
        return existing.state === "done" ? { status: "duplicate" } : { status: "in_progress" };
      }
      const token = randomUUID();
      records.set(webhookId, { state: "processing", token, leaseUntil: at + leaseMs });
      return { status: "claimed", token };
    },
    async complete(webhookId, token) {
      const record = records.get(webhookId);
      if (record?.state === "processing" && record.token === token) {
        records.set(webhookId, { state: "done", expiresAt: now() + ttlMs });
      }
    },
    async release(webhookId, token) {
      const record = records.get(webhookId);
      if (record?.state === "processing" && record.token === token) records.delete(webhookId);
    },
  };
}

/** The part of a node-postgres `Pool`/`Client` (or PGlite, Neon) this kit uses. */
export interface PostgresQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export const REPLAY_TABLE = "batchwatch_receiver_replay";

/** Creates the table of {@link createPostgresReplayStore}; safe to run more than once. */
export async function createReplayTable(client: PostgresQueryable): Promise<void> {
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${REPLAY_TABLE} (
      webhook_id  text PRIMARY KEY,
      state       text NOT NULL CHECK (state IN ('processing', 'done')),
      claim_token text,
      lease_until timestamptz,
      expires_at  timestamptz NOT NULL,
      updated_at  timestamptz NOT NULL
    )`);
  await client.query(`CREATE INDEX IF NOT EXISTS ${REPLAY_TABLE}_expires_at ON ${REPLAY_TABLE} (expires_at)`);
}

export interface PostgresReplayStore extends ReplayStore {
  /** Deletes expired records; run it now and then (e.g. daily). Returns how many were deleted. */
  pruneExpired(): Promise<number>;
}

/**
 * A store shared by every instance through Postgres (node-postgres, Neon, PGlite: anything with
 * `query(text, params)` returning `{ rows }`). Create its table with {@link createReplayTable}.
 */
export function createPostgresReplayStore(
  client: PostgresQueryable,
  options: ReplayStoreOptions = {},
): PostgresReplayStore {
  const { ttlMs = DEFAULT_TTL_MS, leaseMs = DEFAULT_LEASE_MS, now = Date.now } = options;
  const iso = (ms: number) => new Date(ms).toISOString();

  // One statement, so two concurrent claims cannot both win: the row is inserted, or taken over
  // only when its lease lapsed or its record expired.
  const claimSql = `
    INSERT INTO ${REPLAY_TABLE} AS r (webhook_id, state, claim_token, lease_until, expires_at, updated_at)
    VALUES ($1, 'processing', $2, $3::timestamptz, $4::timestamptz, $5::timestamptz)
    ON CONFLICT (webhook_id) DO UPDATE
      SET state = 'processing', claim_token = EXCLUDED.claim_token, lease_until = EXCLUDED.lease_until,
          expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
      WHERE (r.state = 'processing' AND r.lease_until <= EXCLUDED.updated_at)
         OR (r.state = 'done' AND r.expires_at <= EXCLUDED.updated_at)
    RETURNING webhook_id`;

  async function claimOnce(webhookId: string): Promise<ReplayClaim | null> {
    const at = now();
    const token = randomUUID();
    const claimed = await client.query(claimSql, [webhookId, token, iso(at + leaseMs), iso(at + ttlMs), iso(at)]);
    if (claimed.rows.length === 1) return { status: "claimed", token };
    const existing = await client.query(`SELECT state FROM ${REPLAY_TABLE} WHERE webhook_id = $1`, [webhookId]);
    const state = existing.rows[0]?.state;
    if (state === "done") return { status: "duplicate" };
    if (state === "processing") return { status: "in_progress" };
    return null; // Released between the two statements: try again.
  }

  return {
    async claim(webhookId) {
      return (await claimOnce(webhookId)) ?? (await claimOnce(webhookId)) ?? { status: "in_progress" };
    },
    async complete(webhookId, token) {
      const at = now();
      await client.query(
        `UPDATE ${REPLAY_TABLE}
            SET state = 'done', claim_token = NULL, lease_until = NULL,
                expires_at = $3::timestamptz, updated_at = $4::timestamptz
          WHERE webhook_id = $1 AND state = 'processing' AND claim_token = $2`,
        [webhookId, token, iso(at + ttlMs), iso(at)],
      );
    },
    async release(webhookId, token) {
      await client.query(
        `DELETE FROM ${REPLAY_TABLE} WHERE webhook_id = $1 AND state = 'processing' AND claim_token = $2`,
        [webhookId, token],
      );
    },
    async pruneExpired() {
      const deleted = await client.query(
        `DELETE FROM ${REPLAY_TABLE}
          WHERE (state = 'done' AND expires_at <= $1::timestamptz)
             OR (state = 'processing' AND lease_until <= $1::timestamptz AND expires_at <= $1::timestamptz)
          RETURNING webhook_id`,
        [iso(now())],
      );
      return deleted.rows.length;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

export interface VerifyBatchWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way. Default 300 s. */
  toleranceSeconds?: number;
  /** Where claims are kept; defaults to one in-memory store per process. */
  replayStore?: ReplayStore;
  /** Clock in milliseconds (Date.now by default); for tests. */
  now?: () => number;
}

export interface VerifiedBatchWebhook {
  event: BatchWebhookEvent;
  webhookId: string;
  /** True when this id was already processed: answer 2xx and do nothing else. */
  duplicate: boolean;
  /** Call once processed: later deliveries of this id are duplicates. No-op for a duplicate. */
  ack(): Promise<void>;
  /** Call when processing failed: the retry is processed as new. No-op for a duplicate. */
  release(): Promise<void>;
}

let defaultReplayStore: ReplayStore | undefined;

/**
 * Verifies the signature (constant time, any of several secrets and signatures) and timestamp of
 * a batchwatch webhook, parses its event, and claims its id in the replay store. Throws
 * {@link BatchWebhookError} on any refusal. Consumes the request body.
 */
export async function verifyBatchWebhook(
  request: Request,
  secret: string | readonly string[],
  options: VerifyBatchWebhookOptions = {},
): Promise<VerifiedBatchWebhook> {
  const { toleranceSeconds = 300, now = Date.now } = options;
  const replayStore = options.replayStore ?? (defaultReplayStore ??= createMemoryReplayStore());
  const keys = (typeof secret === "string" ? [secret] : [...secret]).map(decodeSecret);
  if (keys.length === 0) throw new TypeError("verifyBatchWebhook needs at least one webhook secret");

  const webhookId = request.headers.get("webhook-id");
  const timestampText = request.headers.get("webhook-timestamp");
  const signatureHeader = request.headers.get("webhook-signature");
  if (!webhookId || !timestampText || !signatureHeader) {
    throw new BatchWebhookError("invalid_signature", "missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new BatchWebhookError("invalid_signature", "webhook-timestamp is not whole Unix seconds");
  }
  // Checked before the signature so a replayed old delivery is refused without hashing its body.
  const ageSeconds = Math.floor(now() / 1000) - Number(timestampText);
  if (ageSeconds > toleranceSeconds) throw new BatchWebhookError("stale_timestamp", "webhook-timestamp is too old");
  if (-ageSeconds > toleranceSeconds) {
    throw new BatchWebhookError("stale_timestamp", "webhook-timestamp is too far in the future");
  }

  // The raw text as sent: the signature covers these exact bytes.
  const body = await request.text();
  if (!hasMatchingSignature(keys, `${webhookId}.${timestampText}.`, body, signatureHeader)) {
    throw new BatchWebhookError("invalid_signature", "no matching webhook signature");
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BatchWebhookError("invalid_payload", "the body is not JSON");
  }
  const event = parseBatchWebhookEvent(parsed);

  const claim = await replayStore.claim(webhookId);
  if (claim.status === "in_progress") {
    throw new BatchWebhookError("in_progress", `webhook ${webhookId} is being processed by another request`);
  }
  if (claim.status === "duplicate") {
    const nothing = async () => undefined;
    return { event, webhookId, duplicate: true, ack: nothing, release: nothing };
  }

  let settled = false; // ack and release each settle the claim once; later calls do nothing.
  const settle = (action: (id: string, token: string) => Promise<void>) => async () => {
    if (settled) return;
    settled = true;
    await action.call(replayStore, webhookId, claim.token);
  };
  return { event, webhookId, duplicate: false, ack: settle(replayStore.complete), release: settle(replayStore.release) };
}

function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, "base64") : Buffer.alloc(0);
  // The message never includes the secret.
  if (key.length === 0) throw new TypeError('a batchwatch webhook secret must be "whsec_" followed by base64');
  return key;
}

function hasMatchingSignature(keys: Buffer[], signedPrefix: string, body: string, header: string): boolean {
  const received: Buffer[] = [];
  for (const entry of header.split(" ")) {
    const comma = entry.indexOf(",");
    // Only v1 (HMAC-SHA256) is defined for symmetric secrets; other versions are skipped.
    if (comma === -1 || entry.slice(0, comma) !== "v1") continue;
    received.push(Buffer.from(entry.slice(comma + 1), "base64"));
  }
  let matched = false;
  for (const key of keys) {
    const expected = createHmac("sha256", key).update(signedPrefix).update(body).digest();
    for (const signature of received) {
      // timingSafeEqual needs equal lengths; a length mismatch reveals nothing about the key.
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) matched = true;
    }
  }
  return matched;
}

const JOB_EVENT_TYPE =
  /^(?:batch\.(?:completed|failed|expired|cancelled)|response\.[a-z_]+|fine_tuning\.job\.[a-z_]+|eval\.run\.[a-z_]+)$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(message: string): never {
  throw new BatchWebhookError("invalid_payload", message);
}

function expectString(event: Record<string, unknown>, field: string, { nullable = false, date = false } = {}): void {
  const value = event[field];
  if (value === null && nullable) return;
  if (typeof value !== "string" || value === "") {
    invalid(`${field} must be a non-empty string${nullable ? " or null" : ""}`);
  }
  if (date && Number.isNaN(Date.parse(value))) invalid(`${field} must be an ISO 8601 date`);
}

/**
 * Checks a parsed body against {@link BatchWebhookEvent} by hand (this file has no
 * dependencies). Unknown extra fields are kept, so newer senders stay readable.
 */
export function parseBatchWebhookEvent(value: unknown): BatchWebhookEvent {
  if (!isObject(value)) return invalid("the body is not a JSON object");

  if (value.type === "webhook.test") {
    expectString(value, "endpoint");
    expectString(value, "sentAt", { date: true });
    return value as unknown as WebhookTestEvent;
  }

  if (value.type === "batch.stalled" || value.type === "batch.resumed") {
    for (const field of ["id", "provider", "kind", "status"]) expectString(value, field);
    if (!isObject(value.stall)) return invalid("stall must be an object");
    expectString(value.stall, "kind");
    expectString(value.stall, "since", { date: true });
    expectString(value, value.type === "batch.stalled" ? "detectedAt" : "resumedAt", { date: true });
    if (!isObject(value.metadata)) invalid("metadata must be an object");
    return value as unknown as BatchStalledEvent | BatchResumedEvent;
  }

  if (value.type === "group.settled") {
    expectString(value, "group");
    expectString(value, "settledAt", { date: true });
    if (typeof value.settlement !== "number") invalid("settlement must be a number");
    if (!isObject(value.totals)) invalid("totals must be an object");
    if (!Array.isArray(value.batches)) invalid("batches must be an array");
    if (!isObject(value.metadata)) invalid("metadata must be an object");
    return value as unknown as GroupSettledEvent;
  }

  if (typeof value.type !== "string" || !JOB_EVENT_TYPE.test(value.type)) invalid("type is not a known event type");
  for (const field of ["id", "provider", "kind", "status"]) expectString(value, field);
  for (const field of ["providerStatus", "reason"]) expectString(value, field, { nullable: true });
  for (const field of ["createdAt", "endedAt"]) expectString(value, field, { nullable: true, date: true });

  const counts = value.requestCounts;
  if (counts !== null) {
    if (!isObject(counts)) return invalid("requestCounts must be an object or null");
    for (const field of ["total", "completed", "failed"]) {
      if (!(field in counts)) invalid(`requestCounts.${field} is missing`);
    }
    for (const [field, count] of Object.entries(counts)) {
      if (typeof count !== "number" || !Number.isInteger(count) || count < 0) {
        invalid(`requestCounts.${field} must be a non-negative integer`);
      }
    }
  }

  if (!isObject(value.metadata)) invalid("metadata must be an object");
  if (value.detail !== undefined && value.detail !== null && !isObject(value.detail)) {
    invalid("detail must be an object or null when present");
  }
  if (value.results !== undefined) {
    if (!isObject(value.results)) return invalid("results must be an object when present");
    for (const field of ["verdict", "reason"]) expectString(value.results, field);
  }
  return value as unknown as JobFinishedEvent;
}
