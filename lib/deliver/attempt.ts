import { MAX_DELIVERY_RETRIES, readConfig } from "@/lib/config";
import type { Database, Queryable } from "@/lib/db";
import { now, nowDate } from "@/lib/clock";
import { AppError } from "@/lib/errors";
import { parseRetryAfterMs } from "@/lib/providers/errors";
import { decryptSecret } from "@/lib/security/secret-box";
import { deliverRequest, type DeliveryResult } from "@/lib/security/safe-fetch";
import { validateWebhookUrl } from "@/lib/security/destination-policy";
import { buildWebhookHeaders } from "@/lib/security/standard-webhooks";

/** An endpoint is disabled after this many failed deliveries in a row… */
export const ENDPOINT_MAX_CONSECUTIVE_FAILURES = 20;
/** …or when it has failed without a single success for this long. */
export const ENDPOINT_MAX_FAILING_MS = 5 * 24 * 3_600_000;
/** The longest wait between two attempts, whatever a receiver's Retry-After asks. */
export const MAX_RETRY_DELAY_MS = 4 * 3_600_000;
const FIRST_RETRY_DELAY_MS = 30_000;
/**
 * Retries after the first attempt: 30 s doubling to 4 h spans about two days before a delivery is
 * given up. BATCHWATCH_DELIVERY_RETRIES may lower it (the engine suite does, to see a run fail for good).
 */
export const DELIVERY_RETRIES = MAX_DELIVERY_RETRIES;

/** Why a failed delivery stopped (`deliveries.closed_reason`); null while it may still be attempted. */
export const CLOSED_REASONS = ["gave_up", "gone", "endpoint_disabled", "subscription_disabled", "sent_once"] as const;
export type ClosedReason = (typeof CLOSED_REASONS)[number];

export type AttemptOutcome =
  | { outcome: "delivered"; statusCode: number; durationMs: number }
  | { outcome: "gone"; statusCode: 410; durationMs: number }
  | { outcome: "retry"; statusCode: number | null; durationMs: number; error: string; retryAfterMs: number }
  | { outcome: "skipped"; why: "unknown_delivery" | "already_delivered" | "subscription_disabled" | "endpoint_disabled" };

interface DeliveryRecord {
  id: string;
  status: "pending" | "delivered" | "failed";
  event_type: string;
  payload: Record<string, unknown>;
  subscription_id: string | null;
  subscription_disabled_at: Date | null;
  webhook_url: string | null;
  endpoint_id: string | null;
  endpoint_url: string | null;
  endpoint_disabled_at: Date | null;
  secret_encrypted: string | null;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
}

/**
 * Makes one signed attempt of a delivery and records it, keyed by (delivery, run, attempt), so a
 * retried step overwrites its own row and a replay (new run) adds its own. The `webhook-id` is the
 * delivery's id on every attempt, resend and replay; timestamp and signature are fresh each time.
 * Never throws for a receiver's failure: the caller decides how to retry from the outcome.
 *
 * `delivered` is final. A delivery already delivered is not sent again (`already_delivered`)
 * unless this is an explicit resend (`run.resend`), and no attempt, whatever the receiver answers,
 * turns a delivered delivery into anything else: the UPDATE's WHERE clause refuses it, so a late
 * failure of an older run racing a successful one cannot undo the success.
 */
export async function attemptDelivery(
  db: Database,
  deliveryId: string,
  run: { runId: string; attempt: number; resend?: boolean },
): Promise<AttemptOutcome> {
  const delivery = await loadDelivery(db, deliveryId);
  if (!delivery) return { outcome: "skipped", why: "unknown_delivery" };
  if (delivery.status === "delivered" && !run.resend) return { outcome: "skipped", why: "already_delivered" };
  // A delivery that can no longer be sent is closed as failed, never left pending. The last
  // attempt's error stays: it is why the endpoint was disabled, which is what an operator must see.
  const closeAs = async (why: "subscription_disabled" | "endpoint_disabled", message: string): Promise<AttemptOutcome> => {
    await db.query(
      `UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = COALESCE(last_error, $3), closed_reason = $4,
         next_attempt_at = NULL
       WHERE id = $1 AND status <> 'delivered'`,
      [delivery.id, nowDate(), message, why],
    );
    return { outcome: "skipped", why };
  };
  if (delivery.subscription_disabled_at) return closeAs("subscription_disabled", "the subscription is disabled");
  if (delivery.endpoint_disabled_at) return closeAs("endpoint_disabled", "the endpoint is disabled");

  const config = readConfig();
  const result = await sendSigned(delivery, config.deliveryTimeoutMs, config.allowPrivateWebhooks);
  const attemptedAt = nowDate();
  const statusCode = result.ok ? result.status : null;
  const error = result.ok ? (result.accepted ? null : `receiver answered ${result.status}`) : result.message;
  const accepted = result.ok && result.accepted;
  const retryAfterMs = retryDelayMs(run.attempt, result.ok ? parseRetryAfterMs(result.headers, now()) : undefined);
  // No retry is scheduled after the last attempt (the run then fails and the delivery is given up).
  const nextAttemptAt = accepted || statusCode === 410 || run.attempt >= config.deliveryRetries ? null : new Date(attemptedAt.getTime() + retryAfterMs);

  const stillOpen = await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO delivery_attempts (delivery_id, run_id, attempt, attempted_at, status_code, duration_ms, error, response_body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (delivery_id, run_id, attempt) DO UPDATE SET attempted_at = EXCLUDED.attempted_at,
         status_code = EXCLUDED.status_code, duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error,
         response_body = EXCLUDED.response_body`,
      [delivery.id, run.runId, run.attempt + 1, attemptedAt, statusCode, result.durationMs, error, result.ok ? result.bodyText.slice(0, 1024) : null],
    );
    // A delivered delivery is only ever touched by another accepted attempt (a resend), which keeps it delivered.
    const updated = await tx.query(
      `UPDATE deliveries SET attempt_count = attempt_count + 1, last_status_code = $2, last_error = $3, last_attempt_at = $4,
         status = CASE WHEN $5 THEN 'delivered' WHEN $6 THEN 'failed' ELSE 'pending' END,
         delivered_at = CASE WHEN $5 THEN $4 ELSE delivered_at END,
         failed_at = CASE WHEN $6 THEN $4 ELSE NULL END,
         closed_reason = CASE WHEN $6 THEN 'gone' ELSE NULL END,
         next_attempt_at = $7
       WHERE id = $1 AND (status <> 'delivered' OR $5)
       RETURNING id`,
      [delivery.id, statusCode, error, attemptedAt, accepted, statusCode === 410, nextAttemptAt],
    );
    if (statusCode === 410 && delivery.subscription_id) {
      // 410 Gone: this receiver wants no more of this subscription's events (the endpoint stays enabled).
      await tx.query(
        "UPDATE subscriptions SET disabled_at = $2, disabled_reason = 'receiver answered 410 Gone' WHERE id = $1",
        [delivery.subscription_id, attemptedAt],
      );
    }
    if (delivery.endpoint_id && delivery.event_type !== "webhook.test") {
      await recordEndpointHealth(tx, delivery.endpoint_id, accepted, attemptedAt);
    }
    return updated.length > 0;
  });

  if (accepted) return { outcome: "delivered", statusCode: statusCode!, durationMs: result.durationMs };
  if (statusCode === 410) return { outcome: "gone", statusCode: 410, durationMs: result.durationMs };
  // Another run delivered it while this attempt was under way: nothing is left to retry for.
  if (!stillOpen && !run.resend) return { outcome: "skipped", why: "already_delivered" };
  return {
    outcome: "retry",
    statusCode,
    durationMs: result.durationMs,
    error: error ?? "delivery failed",
    retryAfterMs,
  };
}

async function sendSigned(delivery: DeliveryRecord, timeoutMs: number, allowPrivate: boolean): Promise<DeliveryResult> {
  const started = now();
  const failed = (message: string): DeliveryResult => ({ ok: false, error: "connection", message, durationMs: now() - started });
  const url = delivery.webhook_url ?? delivery.endpoint_url!;
  let secrets: string[];
  try {
    secrets = signingSecrets(delivery);
    await validateWebhookUrl(url, { allowPrivate });
  } catch (error) {
    return failed(error instanceof Error ? error.message : "the delivery could not be prepared");
  }
  // jsonb does not keep key order; whatever string is sent is what gets signed.
  const body = JSON.stringify(delivery.payload);
  const headers = buildWebhookHeaders({ id: delivery.id, body, secrets, now: nowDate() });
  return deliverRequest(url, {
    headers: { ...headers, "user-agent": "batchwatch/1 (+https://www.standardwebhooks.com)" },
    body,
    timeoutMs,
    allowPrivate,
  });
}

/**
 * The secrets a delivery is signed with, resolved server-side (they never travel in an event): the
 * endpoint's current secret plus, during a rotation's 24 hours, its previous one; else the default
 * `BATCH_WEBHOOK_SECRET`.
 */
export function signingSecrets(delivery: Pick<DeliveryRecord, "endpoint_id" | "secret_encrypted" | "previous_secret_encrypted" | "previous_secret_expires_at">): string[] {
  if (delivery.endpoint_id) {
    const secrets = [decryptSecret(delivery.secret_encrypted!)];
    if (delivery.previous_secret_encrypted && delivery.previous_secret_expires_at && delivery.previous_secret_expires_at.getTime() > now()) {
      secrets.push(decryptSecret(delivery.previous_secret_encrypted));
    }
    return secrets;
  }
  const fallback = readConfig().defaultWebhookSecret;
  if (!fallback) throw new AppError("invalid_request", "BATCH_WEBHOOK_SECRET is not set, so deliveries to a webhookUrl cannot be signed");
  return [fallback];
}

async function loadDelivery(db: Queryable, deliveryId: string): Promise<DeliveryRecord | null> {
  const rows = await db.query<DeliveryRecord>(
    `SELECT d.id, d.status, d.event_type, d.payload, d.subscription_id, s.disabled_at AS subscription_disabled_at, s.webhook_url,
            COALESCE(d.endpoint_id, s.endpoint_id) AS endpoint_id, e.url AS endpoint_url, e.disabled_at AS endpoint_disabled_at,
            e.secret_encrypted, e.previous_secret_encrypted, e.previous_secret_expires_at
     FROM deliveries d
     LEFT JOIN subscriptions s ON s.id = d.subscription_id
     LEFT JOIN endpoints e ON e.id = COALESCE(d.endpoint_id, s.endpoint_id)
     WHERE d.id = $1`,
    [deliveryId],
  );
  return rows[0] ?? null;
}

/** Counts an endpoint's failures and disables it when it keeps failing (a 410 only disables its subscription). */
async function recordEndpointHealth(tx: Queryable, endpointId: string, accepted: boolean, at: Date): Promise<void> {
  if (accepted) {
    await tx.query(
      "UPDATE endpoints SET consecutive_failures = 0, first_failure_at = NULL, last_success_at = $2, updated_at = $2 WHERE id = $1",
      [endpointId, at],
    );
    return;
  }
  await tx.query(
    `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1,
       first_failure_at = COALESCE(first_failure_at, $2), updated_at = $2,
       disabled_at = CASE WHEN disabled_at IS NULL AND (consecutive_failures + 1 >= $3 OR COALESCE(first_failure_at, $2) < $4::timestamptz)
                          THEN $2 ELSE disabled_at END,
       disabled_reason = CASE WHEN disabled_at IS NULL AND (consecutive_failures + 1 >= $3 OR COALESCE(first_failure_at, $2) < $4::timestamptz)
                          THEN 'deliveries kept failing' ELSE disabled_reason END
     WHERE id = $1`,
    [endpointId, at, ENDPOINT_MAX_CONSECUTIVE_FAILURES, new Date(at.getTime() - ENDPOINT_MAX_FAILING_MS)],
  );
}

/**
 * Wait before retry number `attempt + 1`: 30 s doubling to 4 h, so 20 retries span about two days;
 * a receiver's Retry-After is honoured up to the same cap.
 */
export function retryDelayMs(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 1_000), MAX_RETRY_DELAY_MS);
  return Math.min(FIRST_RETRY_DELAY_MS * 2 ** Math.max(0, attempt), MAX_RETRY_DELAY_MS);
}

/**
 * Closes a delivery as failed, visibly, keeping its last attempt's error: when Inngest gives up
 * (retries exhausted, `gave_up`) or when a test ping is not retried (`sent_once`).
 */
export async function markDeliveryFailed(
  db: Queryable,
  deliveryId: string,
  message: string,
  reason: Extract<ClosedReason, "gave_up" | "sent_once"> = "gave_up",
): Promise<void> {
  await db.query(
    `UPDATE deliveries SET status = 'failed', failed_at = $2, last_error = COALESCE(last_error, $3), closed_reason = $4,
       next_attempt_at = NULL
     WHERE id = $1 AND status <> 'delivered'`,
    [deliveryId, nowDate(), message, reason],
  );
}
