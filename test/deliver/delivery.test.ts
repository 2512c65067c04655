import type { ServerResponse } from "node:http";
import { beforeEach, describe, expect, test } from "vitest";
import { attemptDelivery, DELIVERY_RETRIES, ENDPOINT_MAX_CONSECUTIVE_FAILURES, markDeliveryFailed, MAX_RETRY_DELAY_MS } from "@/lib/deliver/attempt";
import { previewRecovery, recoverFailedDeliveries, resendDelivery } from "@/lib/deliver/resend";
import { sendEndpointTest } from "@/lib/deliver/test-delivery";
import { AppError } from "@/lib/errors";
import { getProvider } from "@/lib/providers";
import { encryptSecret } from "@/lib/security/secret-box";
import { settleJob } from "@/lib/settle/settlement";
import { untrackSubscription } from "@/lib/track/untrack";
import { deliverToLateSubscribers, LATE_SUBSCRIBER_LOOKBACK_MS } from "@/lib/deliver/create-deliveries";
import { trackBatch } from "@/lib/track/tracking";
import { generateWebhookSecret } from "@/lib/security/standard-webhooks";
import type { EventSender } from "@/lib/events/outbox";
import {
  containsAny,
  createDurableDatabase,
  recordingSender,
  runCapturingStepErrors,
  startScriptedServer,
  verifyStandardWebhook,
} from "../helpers/durable";
import { withEnv } from "../helpers/env";
import { useFlow } from "../helpers/flow";
import { functionById } from "../helpers/inngest-harness";

const DEFAULT_SECRET = process.env.BATCH_WEBHOOK_SECRET!;
const BATCH = "sim_1m_completed_10";

type Answer = { status: number; headers?: Record<string, string> };

/** What the receiver answers: scripted answers first, then the default. */
let answers: (Answer | (() => Answer))[] = [];
let defaultAnswer: Answer = { status: 200 };
let receiverSecret = DEFAULT_SECRET;

const flow = useFlow({
  database: createDurableDatabase,
  setupTimeout: 120_000,
  receiver: {
    secret: () => receiverSecret,
    respond: () => {
      const next = answers.shift();
      return typeof next === "function" ? next() : (next ?? defaultAnswer);
    },
  },
});
beforeEach(() => {
  answers = [];
  defaultAnswer = { status: 200 };
  receiverSecret = DEFAULT_SECRET;
});

const deliverFn = () => functionById("deliver-webhook");

function query<Row = Record<string, unknown>>(sql: string, params: unknown[] = []) {
  return flow.db.query<Row>(sql, params);
}

type Destination = { webhookUrl: string } | { endpoint: string };

/**
 * Tracks BATCH for each destination (their `batch/tracked` events are kept away from the harness,
 * so no watcher runs) and settles it as a poll would. The `delivery/requested` events go to
 * `send`: the harness's event API unless a test wants to hold them back.
 */
async function settleFor(destinations: Destination[], send?: EventSender, metadata?: (index: number) => Record<string, unknown>) {
  const tracker = recordingSender();
  let jobId = "";
  const subscriptionIds: string[] = [];
  for (const [index, destination] of destinations.entries()) {
    const tracked = await trackBatch(
      flow.db,
      { provider: "simulated", batchId: BATCH, ...destination, ...(metadata ? { metadata: metadata(index) } : {}) },
      tracker.send,
    );
    jobId = tracked.job.id;
    subscriptionIds.push(tracked.subscription.id);
  }
  const snapshot = await getProvider("simulated").retrieve(BATCH, { kind: "batch", trackedAt: flow.harness.now() - 5 * 60_000 });
  const settled = await settleJob(flow.db, jobId, { by: "poll", snapshot }, send ?? flow.send);
  expect(settled.settled).toBe(true);
  // In the order of the destinations given (subscriptions tracked in the same instant have no order of their own).
  const rows = await query<{ id: string; subscription_id: string }>("SELECT id, subscription_id FROM deliveries WHERE id = ANY($1::text[])", [
    settled.deliveryIds,
  ]);
  const deliveryIds = subscriptionIds.flatMap((id) => rows.filter((row) => row.subscription_id === id).map((row) => row.id));
  return { jobId, subscriptionIds, deliveryIds };
}

async function settleOne(destination: Destination = { webhookUrl: flow.receiver.url }, send?: EventSender) {
  const { jobId, subscriptionIds, deliveryIds } = await settleFor([destination], send);
  return { jobId, subscriptionId: subscriptionIds[0]!, deliveryId: deliveryIds[0]! };
}

async function attemptsOf(deliveryId: string) {
  return query<{ run_id: string; attempt: number; attempted_at: Date; status_code: number | null; error: string | null }>(
    "SELECT run_id, attempt, attempted_at, status_code, error FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempted_at, attempt",
    [deliveryId],
  );
}

async function deliveryRow(deliveryId: string) {
  const [row] = await query<{
    status: string;
    attempt_count: number;
    last_status_code: number | null;
    last_error: string | null;
    delivered_at: Date | null;
    failed_at: Date | null;
    next_attempt_at: Date | null;
    closed_reason: string | null;
    payload: Record<string, unknown>;
  }>("SELECT * FROM deliveries WHERE id = $1", [deliveryId]);
  return row!;
}

/** Inserts an endpoint the way the endpoints store keeps it: secrets encrypted at rest. */
async function insertEndpoint(options: { name: string; url: string; secret: string; previousSecret?: string; previousExpiresAt?: Date }) {
  const [row] = await query<{ id: string }>(
    `INSERT INTO endpoints (name, url, secret_encrypted, previous_secret_encrypted, previous_secret_expires_at)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [
      options.name,
      options.url,
      encryptSecret(options.secret),
      options.previousSecret ? encryptSecret(options.previousSecret) : null,
      options.previousExpiresAt ?? null,
    ],
  );
  return row!.id;
}

async function endpointRow(id: string) {
  const [row] = await query<{ disabled_at: Date | null; disabled_reason: string | null; consecutive_failures: number; last_success_at: Date | null }>(
    "SELECT disabled_at, disabled_reason, consecutive_failures, last_success_at FROM endpoints WHERE id = $1",
    [id],
  );
  return row!;
}

function deliverRuns() {
  return flow.harness.runs.filter((run) => run.functionId === "deliver-webhook");
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function signaturesOf(headers: Record<string, unknown>): string[] {
  return String(headers["webhook-signature"]).split(" ");
}

describe("delivering a settled batch's outcome", () => {
  test("a 2xx on the first attempt delivers once: one attempt row, webhook-id is the delivery id, signature verifies", async () => {
    const { deliveryId } = await settleOne();
    await flow.harness.drain();

    expect(flow.receiver.received).toHaveLength(1);
    const request = flow.receiver.received[0]!;
    expect(request.verified).not.toBeNull();
    expect(request.headers["webhook-id"]).toBe(deliveryId);
    expect(request.headers["webhook-timestamp"]).toBe(String(Math.floor(flow.harness.now() / 1000)));
    expect(signaturesOf(request.headers)).toHaveLength(1);

    const delivery = await deliveryRow(deliveryId);
    expect(delivery).toMatchObject({ status: "delivered", attempt_count: 1, last_status_code: 200, last_error: null, failed_at: null });
    expect(delivery.delivered_at).toBeInstanceOf(Date);
    expect(request.verified).toEqual(delivery.payload);
    expect(request.verified).toMatchObject({ type: "batch.completed", id: BATCH, provider: "simulated", status: "completed" });

    const attempts = await attemptsOf(deliveryId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ attempt: 1, status_code: 200, error: null });
    expect(deliverRuns()).toHaveLength(1);
    expect(deliverRuns()[0]!.error).toBeUndefined();
  });

  test("500, 500, then 200: three attempts keyed (delivery, run, attempt), one webhook-id, fresh timestamp and signature each", async () => {
    answers = [{ status: 500 }, { status: 500 }];
    const { deliveryId } = await settleOne();
    await flow.harness.drain();

    expect(flow.receiver.received).toHaveLength(3);
    expect(flow.receiver.received.every((request) => request.verified !== null)).toBe(true);
    expect(new Set(flow.receiver.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([deliveryId]));
    expect(new Set(flow.receiver.received.map((request) => request.headers["webhook-timestamp"])).size).toBe(3);
    expect(new Set(flow.receiver.received.map((request) => request.headers["webhook-signature"])).size).toBe(3);

    const attempts = await attemptsOf(deliveryId);
    expect(attempts.map((attempt) => [attempt.attempt, attempt.status_code])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(new Set(attempts.map((attempt) => `${attempt.run_id}/${attempt.attempt}`)).size).toBe(3);
    expect(attempts[0]!.error).toBe("receiver answered 500");
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", attempt_count: 3, last_status_code: 200 });
    expect(deliverRuns().map((run) => run.attempt)).toEqual([0, 1, 2]);
  });

  const retryAfterCases: { form: string; header: () => string; expectedSeconds: number }[] = [
    { form: "delta-seconds (Retry-After: 120)", header: () => "120", expectedSeconds: 120 },
    { form: "an HTTP-date 120 s ahead", header: () => new Date(flow.harness.now() + 120_000).toUTCString(), expectedSeconds: 120 },
    { form: "10 hours, capped at 4 h", header: () => "36000", expectedSeconds: MAX_RETRY_DELAY_MS / 1000 },
  ];

  test.each(retryAfterCases)("a 429 with Retry-After as $form makes the function ask Inngest to retry after that long", async ({ header, expectedSeconds }) => {
    const { deliveryId } = await settleOne({ webhookUrl: flow.receiver.url }, recordingSender().send);
    answers = [() => ({ status: 429, headers: { "retry-after": header() } })];
    const event = { id: `deliver:${deliveryId}`, name: "delivery/requested", data: { deliveryId, cause: "settled" } };

    const { thrown } = await runCapturingStepErrors(deliverFn(), event, 0);

    expect(thrown).toHaveLength(1);
    expect(thrown[0]!.name).toBe("RetryAfterError");
    expect(thrown[0]!.retryAfter).toBe(String(expectedSeconds));
    expect((await attemptsOf(deliveryId)).map((attempt) => attempt.status_code)).toEqual([429]);
  });

  test.each(retryAfterCases)("a 429 with Retry-After as $form: the harness clock moves at least that far before the next attempt", async ({ header, expectedSeconds }) => {
    answers = [() => ({ status: 429, headers: { "retry-after": header() } })];
    const { deliveryId } = await settleOne();
    await flow.harness.drain();

    const attempts = await attemptsOf(deliveryId);
    expect(attempts.map((attempt) => attempt.status_code)).toEqual([429, 200]);
    const waitedMs = attempts[1]!.attempted_at.getTime() - attempts[0]!.attempted_at.getTime();
    expect(waitedMs).toBeGreaterThanOrEqual(expectedSeconds * 1000);
    expect(waitedMs).toBeLessThanOrEqual(MAX_RETRY_DELAY_MS + 1_000);
  });

  test.each(["webhookUrl", "endpoint"] as const)(
    "410 Gone (%s subscription) disables the subscription and stops, leaving the endpoint enabled",
    async (kind) => {
      defaultAnswer = { status: 410 };
      let endpointId: string | undefined;
      let destination: Destination = { webhookUrl: flow.receiver.url };
      if (kind === "endpoint") {
        receiverSecret = generateWebhookSecret();
        endpointId = await insertEndpoint({ name: "gone", url: flow.receiver.url, secret: receiverSecret });
        destination = { endpoint: "gone" };
      }
      const { deliveryId, subscriptionId } = await settleOne(destination);
      await flow.harness.drain();

      expect(flow.receiver.received).toHaveLength(1);
      expect(flow.receiver.received[0]!.verified).not.toBeNull();
      expect(deliverRuns()).toHaveLength(1);
      expect(deliverRuns()[0]!.error).toBeUndefined();
      expect(await attemptsOf(deliveryId)).toHaveLength(1);
      expect(await deliveryRow(deliveryId)).toMatchObject({ status: "failed", last_status_code: 410 });
      const [subscription] = await query<{ disabled_at: Date | null; disabled_reason: string | null }>(
        "SELECT disabled_at, disabled_reason FROM subscriptions WHERE id = $1",
        [subscriptionId],
      );
      expect(subscription!.disabled_at).toBeInstanceOf(Date);
      expect(subscription!.disabled_reason).toMatch(/410/);
      if (endpointId) expect((await endpointRow(endpointId)).disabled_at).toBeNull();
    },
  );

  test("a receiver that always fails gets 21 attempts, then onFailure marks the delivery failed and the run's error shows why", async () => {
    defaultAnswer = { status: 500 };
    const { deliveryId } = await settleOne();
    await flow.harness.drain();

    expect(flow.receiver.received).toHaveLength(21);
    expect(await attemptsOf(deliveryId)).toHaveLength(21);
    const runs = deliverRuns();
    expect(runs).toHaveLength(21);
    expect(runs.every((run) => run.error !== undefined)).toBe(true);
    expect(runs.at(-1)!.error!.message).toBe("receiver answered 500");
    const delivery = await deliveryRow(deliveryId);
    expect(delivery).toMatchObject({ status: "failed", attempt_count: 21, last_status_code: 500, closed_reason: "gave_up", next_attempt_at: null });
    expect(delivery.failed_at).toBeInstanceOf(Date);
    expect(delivery.last_error).toMatch(/500/);
  });

  test("a failed attempt schedules the next one (its backoff) on the delivery; a success clears it", async () => {
    const { deliveryId } = await settleOne({ webhookUrl: flow.receiver.url }, recordingSender().send);
    answers = [{ status: 503 }];
    const first = await attemptDelivery(flow.db, deliveryId, { runId: "run-1", attempt: 0 });
    expect(first).toMatchObject({ outcome: "retry", retryAfterMs: 30_000 });
    const [attempt] = await attemptsOf(deliveryId);
    const afterFailure = await deliveryRow(deliveryId);
    expect(afterFailure).toMatchObject({ status: "pending", closed_reason: null });
    expect(afterFailure.next_attempt_at!.getTime()).toBe(attempt!.attempted_at.getTime() + 30_000);

    await attemptDelivery(flow.db, deliveryId, { runId: "run-1", attempt: 1 });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", next_attempt_at: null });
  });

  test("the last attempt schedules no retry: the run is about to fail and give the delivery up", async () => {
    const { deliveryId } = await settleOne({ webhookUrl: flow.receiver.url }, recordingSender().send);
    answers = [{ status: 503 }];
    await attemptDelivery(flow.db, deliveryId, { runId: "run-1", attempt: DELIVERY_RETRIES });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "pending", next_attempt_at: null });
  });

  test.each([301, 302, 307, 308])("a %i redirect is a failed attempt and is not followed", async (status) => {
    const target = await startScriptedServer(() => undefined);
    try {
      answers = [{ status, headers: { location: target.url } }];
      const { deliveryId } = await settleOne();
      await flow.harness.drain();

      const attempts = await attemptsOf(deliveryId);
      expect(attempts.map((attempt) => attempt.status_code)).toEqual([status, 200]);
      expect(attempts[0]!.error).toBe(`receiver answered ${status}`);
      expect(target.requests).toHaveLength(0);
      expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", attempt_count: 2 });
    } finally {
      await target.close();
    }
  });

  test("a receiver that never answers times out after BATCHWATCH_DELIVERY_TIMEOUT_MS and the next attempt delivers", async () => {
    const slow = await startScriptedServer((index) => (index === 0 ? "hang" : undefined));
    try {
      await withEnv({ BATCHWATCH_DELIVERY_TIMEOUT_MS: "1000" }, async () => {
        const { deliveryId } = await settleOne({ webhookUrl: slow.url });
        const started = performance.now();
        await flow.harness.drain();
        expect(performance.now() - started).toBeLessThan(10_000);

        const attempts = await attemptsOf(deliveryId);
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ status_code: null, error: "no response within 1000 ms" });
        expect(attempts[1]).toMatchObject({ status_code: 200, error: null });
        expect(slow.requests).toHaveLength(2);
        expect(slow.requests[1]!.headers["webhook-id"]).toBe(deliveryId);
      });
    } finally {
      await slow.close();
    }
  });
});

describe("sending again", () => {
  test("resendDelivery sends a new Inngest event each time, keeps the webhook-id and never settles again", async () => {
    const { jobId, deliveryId } = await settleOne();
    await flow.harness.drain();
    const [before] = await query<{ settled_at: Date }>("SELECT settled_at FROM jobs WHERE id = $1", [jobId]);

    flow.harness.advance(60_000);
    const first = await resendDelivery(flow.db, deliveryId, flow.send);
    await flow.harness.drain();
    flow.harness.advance(60_000);
    const second = await resendDelivery(flow.db, deliveryId, flow.send);
    await flow.harness.drain();

    const requested = flow.harness.named("delivery/requested");
    expect(requested.map((event) => event.id)).toEqual([`deliver:${deliveryId}`, first.eventId, second.eventId]);
    expect(new Set(requested.map((event) => event.id)).size).toBe(3);
    expect(requested.slice(1).map((event) => event.data)).toEqual([
      { deliveryId, cause: "resend" },
      { deliveryId, cause: "resend" },
    ]);

    expect(flow.receiver.received).toHaveLength(3);
    expect(flow.receiver.received.every((request) => request.verified !== null)).toBe(true);
    expect(new Set(flow.receiver.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([deliveryId]));
    expect(await attemptsOf(deliveryId)).toHaveLength(3);

    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    const [after] = await query<{ settled_at: Date }>("SELECT settled_at FROM jobs WHERE id = $1", [jobId]);
    expect(after!.settled_at.getTime()).toBe(before!.settled_at.getTime());
    const [{ count }] = (await query<{ count: string }>("SELECT count(*) FROM job_events WHERE type = 'settled'")) as [{ count: string }];
    expect(Number(count)).toBe(1);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", attempt_count: 3 });
  });

  test("replaying a failed delivery's run from the Inngest dashboard (same event) delivers it under the same webhook-id with a new attempt row", async () => {
    const { deliveryId } = await settleOne({ webhookUrl: flow.receiver.url }, recordingSender().send);
    const original = { id: `deliver:${deliveryId}`, name: "delivery/requested", data: { deliveryId, cause: "settled" } };
    answers = [{ status: 500 }];
    await flow.harness.runOnce(deliverFn(), original, DELIVERY_RETRIES);
    await markDeliveryFailed(flow.db, deliveryId, "gave up");

    flow.harness.advance(3_600_000);
    const replay = await flow.harness.runOnce(deliverFn(), original);

    expect(replay.error).toBeUndefined();
    expect(replay.result).toMatchObject({ outcome: "delivered", statusCode: 200 });
    expect(flow.receiver.received.map((request) => request.headers["webhook-id"])).toEqual([deliveryId, deliveryId]);
    expect(flow.receiver.received[1]!.verified).not.toBeNull();
    const attempts = await attemptsOf(deliveryId);
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.run_id).not.toBe(attempts[1]!.run_id);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", failed_at: null, closed_reason: null });
  });

  test("recoverFailedDeliveries(since) resends exactly the deliveries that failed since then", async () => {
    const held = recordingSender();
    const urls = ["old", "recent", "ok"].map((name) => ({ webhookUrl: `${flow.receiver.url}?subscriber=${name}` }));
    const { deliveryIds } = await settleFor(urls, held.send, (index) => ({ subscriber: index }));
    const [oldFailure, recentFailure, delivered] = deliveryIds as [string, string, string];
    await markDeliveryFailed(flow.db, oldFailure, "gave up");
    flow.harness.advance(2 * 3_600_000);
    const since = new Date(flow.harness.now() - 60_000);
    await markDeliveryFailed(flow.db, recentFailure, "gave up");
    await attemptDelivery(flow.db, delivered, { runId: "direct", attempt: 0 });
    flow.receiver.received.length = 0;

    await expect(recoverFailedDeliveries(flow.db, new Date(flow.harness.now() + 60_000), flow.send)).rejects.toBeInstanceOf(AppError);
    const recovered = await recoverFailedDeliveries(flow.db, since, flow.send);
    expect(recovered).toEqual({
      resent: 1,
      deliveryIds: [recentFailure],
      more: false,
      skipped: { endpoint_disabled: 0, subscription_disabled: 0 },
    });
    await flow.harness.drain();

    expect(flow.harness.named("delivery/requested").map((event) => event.data)).toEqual([{ deliveryId: recentFailure, cause: "recover" }]);
    expect(flow.receiver.received).toHaveLength(1);
    expect(flow.receiver.received[0]!.headers["webhook-id"]).toBe(recentFailure);
    expect(flow.receiver.received[0]!.verified).toMatchObject({ metadata: { subscriber: 1 } });
    expect((await deliveryRow(recentFailure)).status).toBe("delivered");
    expect((await deliveryRow(oldFailure)).status).toBe("failed");
    expect((await deliveryRow(delivered)).status).toBe("delivered");
  });

  test("a resend while Inngest is unreachable answers inngest_unavailable and the reconciler sends it later", async () => {
    const { deliveryIds } = await settleFor([{ webhookUrl: flow.receiver.url }], recordingSender().send);
    const deliveryId = deliveryIds[0]!;
    await markDeliveryFailed(flow.db, deliveryId, "gave up");
    const unreachable: EventSender = async () => {
      throw new Error("connect ECONNREFUSED");
    };
    await expect(resendDelivery(flow.db, deliveryId, unreachable)).rejects.toMatchObject({ code: "inngest_unavailable" });
    expect((await deliveryRow(deliveryId)).status).toBe("pending");
    expect(await query("SELECT event_id FROM outbox WHERE sent_at IS NULL AND event_id LIKE 'resend:%'")).toHaveLength(1);

    flow.harness.advance(10 * 60_000);
    await flow.harness.runOnce(functionById("reconcile"), { name: "inngest/scheduled.timer", data: {} });
    await flow.harness.drain();
    expect((await deliveryRow(deliveryId)).status).toBe("delivered");
  });

  test("recovering leaves failed endpoint test pings alone (a test is sent once)", async () => {
    const endpointId = await insertEndpoint({ name: "pinged", url: `${flow.receiver.url}?ping=1`, secret: generateWebhookSecret() });
    answers = [{ status: 500 }];
    const since = new Date(flow.harness.now() - 1_000);
    const { deliveryId, attempt } = await sendEndpointTest(flow.db, endpointId);
    expect(attempt.ok).toBe(false);
    expect((await deliveryRow(deliveryId)).status).toBe("failed");
    expect(await recoverFailedDeliveries(flow.db, since, flow.send)).toMatchObject({ resent: 0, deliveryIds: [], more: false });
  });

  test("recovering after an outage leaves no delivery pending: one whose receiver answered 410 is not resent", async () => {
    answers = [{ status: 410 }, { status: 500 }];
    const urls = ["gone", "outage"].map((name) => ({ webhookUrl: `${flow.receiver.url}?subscriber=${name}` }));
    const since = new Date(flow.harness.now());
    const { deliveryIds } = await settleFor(urls, recordingSender().send, (index) => ({ subscriber: index }));
    // The first delivery is answered 410; the second fails once (500) and is then given up.
    for (const deliveryId of deliveryIds) {
      await flow.harness.runOnce(deliverFn(), { id: `deliver:${deliveryId}`, name: "delivery/requested", data: { deliveryId, cause: "settled" } });
    }
    await markDeliveryFailed(flow.db, deliveryIds[1]!, "gave up");
    expect((await deliveryRow(deliveryIds[0]!)).status).toBe("failed");
    flow.receiver.received.length = 0;

    await recoverFailedDeliveries(flow.db, since, flow.send);
    await flow.harness.drain();

    expect(flow.receiver.received.map((request) => request.headers["webhook-id"])).toEqual([deliveryIds[1]]);
    const pending = await query<{ id: string }>("SELECT id FROM deliveries WHERE status = 'pending'");
    expect(pending).toEqual([]);
  });

  test("a recovery previews, then skips and counts what can only fail again: a disabled endpoint, a 410", async () => {
    const secret = generateWebhookSecret();
    receiverSecret = secret;
    const disabledId = await insertEndpoint({ name: "off", url: `${flow.receiver.url}?endpoint=off`, secret });
    await insertEndpoint({ name: "on", url: `${flow.receiver.url}?endpoint=on`, secret });
    const since = new Date(flow.harness.now());
    const gone = `${flow.receiver.url}?subscriber=gone`;
    await settleFor(
      [{ webhookUrl: gone }, { endpoint: "off" }, { endpoint: "on" }, { webhookUrl: `${flow.receiver.url}?subscriber=outage` }],
      recordingSender().send,
    );
    const rows = await query<{ id: string; destination: string }>(
      `SELECT d.id, COALESCE(e.name, s.webhook_url) AS destination FROM deliveries d
       JOIN subscriptions s ON s.id = d.subscription_id LEFT JOIN endpoints e ON e.id = s.endpoint_id`,
    );
    const deliveryTo = (destination: string) => rows.find((row) => row.destination === destination)!.id;
    answers = [{ status: 410 }];
    await attemptDelivery(flow.db, deliveryTo(gone), { runId: "run-1", attempt: 0 });
    expect(await deliveryRow(deliveryTo(gone))).toMatchObject({ status: "failed", closed_reason: "gone" });
    for (const row of rows.filter((each) => each.destination !== gone)) await markDeliveryFailed(flow.db, row.id, "gave up");
    await query("UPDATE endpoints SET disabled_at = now(), disabled_reason = 'deliveries kept failing' WHERE id = $1", [disabledId]);

    const preview = await previewRecovery(flow.db, since);
    expect(preview).toMatchObject({
      resend: { count: 2 },
      skipped: [
        { reason: "endpoint_disabled", count: 1, destinations: [{ endpointId: disabledId, endpointName: "off", count: 1 }] },
        { reason: "subscription_disabled", count: 1, destinations: [{ endpointId: null, webhookUrl: gone, count: 1 }] },
      ],
      truncated: false,
    });
    expect(await query("SELECT event_id FROM outbox WHERE event_id LIKE 'recover:%'")).toEqual([]);

    const recovered = await recoverFailedDeliveries(flow.db, since, recordingSender().send);
    expect(recovered).toMatchObject({ resent: 2, skipped: { endpoint_disabled: 1, subscription_disabled: 1 } });
    expect(preview.resend.destinations.map((each) => each.endpointName ?? each.webhookUrl).sort()).toEqual(
      ["on", `${flow.receiver.url}?subscriber=outage`].sort(),
    );
    expect(await deliveryRow(deliveryTo("off"))).toMatchObject({ status: "failed", closed_reason: "gave_up" });
    await expect(resendDelivery(flow.db, deliveryTo("off"), recordingSender().send)).rejects.toMatchObject({ code: "conflict" });
  });
});

describe("one run per delivery; delivered is final", () => {
  test.each(["settled", "recover", "subscribed_after_settlement"])(
    "a %s run for a delivery already delivered (a replay, a late recovery) sends nothing",
    async (cause) => {
      const { deliveryId } = await settleOne();
      await flow.harness.drain();
      flow.harness.advance(3_600_000);

      const again = await flow.harness.runOnce(deliverFn(), { id: `again:${deliveryId}`, name: "delivery/requested", data: { deliveryId, cause } });

      expect(again.result).toMatchObject({ outcome: "skipped", why: "already_delivered" });
      expect(flow.receiver.received).toHaveLength(1);
      expect(await attemptsOf(deliveryId)).toHaveLength(1);
      expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", attempt_count: 1 });
    },
  );

  test.each([{ status: 500 }, { status: 410 }])(
    "an explicit resend of a delivered delivery is sent, and a $status answer leaves it delivered",
    async (answer) => {
      const { deliveryId } = await settleOne();
      await flow.harness.drain();
      const { delivered_at: deliveredAt } = await deliveryRow(deliveryId);
      flow.harness.advance(60_000);

      answers = [answer];
      const resend = { id: `resend:${deliveryId}:1`, name: "delivery/requested", data: { deliveryId, cause: "resend" } };
      const run = await flow.harness.runOnce(deliverFn(), resend, DELIVERY_RETRIES);

      expect(flow.receiver.received.map((request) => request.headers["webhook-id"])).toEqual([deliveryId, deliveryId]);
      expect((await attemptsOf(deliveryId)).map((attempt) => attempt.status_code)).toEqual([200, answer.status]);
      expect(answer.status === 410 ? run.result : run.error).toBeDefined();
      expect(await deliveryRow(deliveryId)).toMatchObject({
        status: "delivered",
        delivered_at: deliveredAt,
        failed_at: null,
        closed_reason: null,
        last_status_code: 200,
      });
    },
  );

  test("an older run's attempt that fails after another run delivered leaves the delivery delivered and asks for no retry", async () => {
    let held: ServerResponse | undefined;
    const receiver = await startScriptedServer((index, _request, response) => {
      if (index !== 0) return;
      held = response;
      return "hang";
    });
    try {
      const { deliveryId } = await settleOne({ webhookUrl: receiver.url }, recordingSender().send);
      const older = attemptDelivery(flow.db, deliveryId, { runId: "older", attempt: 3 });
      await until(() => held !== undefined);

      const newer = await attemptDelivery(flow.db, deliveryId, { runId: "newer", attempt: 0 });
      expect(newer).toMatchObject({ outcome: "delivered" });
      held!.writeHead(500).end("down");

      expect(await older).toEqual({ outcome: "skipped", why: "already_delivered" });
      expect(receiver.requests).toHaveLength(2);
      expect((await attemptsOf(deliveryId)).map((attempt) => [attempt.run_id, attempt.status_code]).sort()).toEqual([
        ["newer", 200],
        ["older", 500],
      ]);
      expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", last_status_code: 200, next_attempt_at: null });
    } finally {
      await receiver.close();
    }
  });

  test("the onFailure of a run that gave up leaves a delivery another run delivered as delivered", async () => {
    const { deliveryId } = await settleOne();
    await flow.harness.drain();
    const onFailure = (deliverFn() as unknown as { onFailureFn: (ctx: unknown) => Promise<unknown> }).onFailureFn;

    await onFailure({
      event: { name: "inngest/function.failed", data: { event: { name: "delivery/requested", data: { deliveryId, cause: "settled" } } } },
      error: new Error("receiver answered 500"),
      step: {},
    });

    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", failed_at: null, closed_reason: null, last_error: null });
  });

  test("resending a delivered delivery keeps it delivered while the resend is on its way", async () => {
    const { deliveryId } = await settleOne();
    await flow.harness.drain();
    await resendDelivery(flow.db, deliveryId, recordingSender().send);
    const queued = await deliveryRow(deliveryId);
    expect(queued).toMatchObject({ status: "delivered", failed_at: null, closed_reason: null });
    expect(queued.next_attempt_at).toBeInstanceOf(Date);
  });
});

describe("endpoints", () => {
  test("an endpoint's deliveries are signed with its own secret only", async () => {
    const secret = generateWebhookSecret();
    receiverSecret = secret;
    await insertEndpoint({ name: "prod", url: flow.receiver.url, secret });
    const { deliveryId } = await settleOne({ endpoint: "prod" });
    await flow.harness.drain();

    expect(flow.receiver.received).toHaveLength(1);
    const request = flow.receiver.received[0]!;
    expect(request.verified).not.toBeNull();
    expect(request.headers["webhook-id"]).toBe(deliveryId);
    expect(signaturesOf(request.headers)).toHaveLength(1);
    expect(() => verifyStandardWebhook(DEFAULT_SECRET, request.body, request.headers, flow.harness.now())).toThrow();
  });

  test("during a rotation each delivery carries two signatures, one per secret, each verifying on its own; after 24 h only the new one", async () => {
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();
    receiverSecret = current;
    await insertEndpoint({
      name: "rotating",
      url: flow.receiver.url,
      secret: current,
      previousSecret: previous,
      previousExpiresAt: new Date(flow.harness.now() + 24 * 3_600_000),
    });
    const { deliveryId } = await settleOne({ endpoint: "rotating" });
    await flow.harness.drain();

    const request = flow.receiver.received[0]!;
    const signatures = signaturesOf(request.headers);
    expect(signatures).toHaveLength(2);
    expect(signatures.every((signature) => signature.startsWith("v1,"))).toBe(true);
    const verifiesWith = (secret: string, signature: string) => {
      try {
        verifyStandardWebhook(secret, request.body, { ...request.headers, "webhook-signature": signature }, flow.harness.now());
        return true;
      } catch {
        return false;
      }
    };
    expect(signatures.map((signature) => [verifiesWith(current, signature), verifiesWith(previous, signature)])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(verifyStandardWebhook(previous, request.body, request.headers, flow.harness.now())).toEqual(
      verifyStandardWebhook(current, request.body, request.headers, flow.harness.now()),
    );

    flow.harness.advance(25 * 3_600_000);
    await resendDelivery(flow.db, deliveryId, flow.send);
    await flow.harness.drain();
    const later = flow.receiver.received[1]!;
    expect(later.verified).not.toBeNull();
    expect(signaturesOf(later.headers)).toHaveLength(1);
    expect(() => verifyStandardWebhook(previous, later.body, later.headers, flow.harness.now())).toThrow();
  });

  test.each([
    { failures: ENDPOINT_MAX_CONSECUTIVE_FAILURES - 1, disabled: false },
    { failures: ENDPOINT_MAX_CONSECUTIVE_FAILURES, disabled: true },
  ])("after $failures consecutive failed attempts the endpoint is disabled: $disabled", async ({ failures, disabled }) => {
    receiverSecret = generateWebhookSecret();
    const endpointId = await insertEndpoint({ name: "flaky", url: flow.receiver.url, secret: receiverSecret });
    answers = Array.from({ length: failures }, () => ({ status: 503 }));
    const { deliveryId } = await settleOne({ endpoint: "flaky" });
    await flow.harness.drain();

    const endpoint = await endpointRow(endpointId);
    const attempts = await attemptsOf(deliveryId);
    if (!disabled) {
      // The 20th attempt is accepted and resets the count.
      expect(attempts.map((attempt) => attempt.status_code).at(-1)).toBe(200);
      expect(endpoint).toMatchObject({ disabled_at: null, consecutive_failures: 0 });
      expect(endpoint.last_success_at).toBeInstanceOf(Date);
      expect((await deliveryRow(deliveryId)).status).toBe("delivered");
      return;
    }
    // Disabled by the 20th failure; the 21st attempt is not sent and the delivery is failed.
    expect(attempts).toHaveLength(ENDPOINT_MAX_CONSECUTIVE_FAILURES);
    expect(flow.receiver.received).toHaveLength(ENDPOINT_MAX_CONSECUTIVE_FAILURES);
    expect(endpoint.consecutive_failures).toBe(ENDPOINT_MAX_CONSECUTIVE_FAILURES);
    expect(endpoint.disabled_reason).toBe("deliveries kept failing");
    expect(endpoint.disabled_at!.getTime()).toBe(attempts.at(-1)!.attempted_at.getTime());
    // The endpoint's state does not hide what the receiver last said: that is why it was disabled.
    expect(await deliveryRow(deliveryId)).toMatchObject({
      status: "failed",
      last_error: "receiver answered 503",
      closed_reason: "endpoint_disabled",
    });
    expect(deliverRuns().at(-1)!.result).toMatchObject({ outcome: "skipped", why: "endpoint_disabled" });
  });

  test("sendEndpointTest sends one signed webhook.test now and reports it; a failure does not count toward disabling", async () => {
    receiverSecret = generateWebhookSecret();
    const endpointId = await insertEndpoint({ name: "check", url: flow.receiver.url, secret: receiverSecret });

    const ok = await sendEndpointTest(flow.db, endpointId);
    expect(ok.attempt).toMatchObject({ ok: true, statusCode: 200, error: null });
    expect(flow.receiver.received).toHaveLength(1);
    expect(flow.receiver.received[0]!.headers["webhook-id"]).toBe(ok.deliveryId);
    expect(flow.receiver.received[0]!.verified).toMatchObject({ type: "webhook.test", endpoint: "check" });

    answers = [{ status: 500 }];
    const failed = await sendEndpointTest(flow.db, endpointId);
    expect(failed.attempt).toMatchObject({ ok: false, statusCode: 500, error: "receiver answered 500" });
    expect((await endpointRow(endpointId)).consecutive_failures).toBe(0);
    expect(flow.harness.received).toEqual([]);

    await query("UPDATE endpoints SET disabled_at = now() WHERE id = $1", [endpointId]);
    await expect(sendEndpointTest(flow.db, endpointId)).rejects.toMatchObject({ code: "conflict" });
    expect(flow.receiver.received).toHaveLength(2);
  });
});

describe("subscribing after settlement", () => {
  test("a new subscription to a settled batch gets its own delivery at once, and only it", async () => {
    const { jobId } = await settleOne();
    await flow.harness.drain();
    expect(flow.receiver.received).toHaveLength(1);

    flow.harness.advance(10 * 60_000);
    const late = await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: `${flow.receiver.url}?late=1`, metadata: { late: true } }, flow.send);
    expect(late.created).toBe(true);
    await flow.harness.drain();

    const deliveries = await query<{ id: string; subscription_id: string }>("SELECT id, subscription_id FROM deliveries WHERE job_id = $1 ORDER BY created_at", [jobId]);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]!.subscription_id).toBe(late.subscription.id);
    expect(flow.harness.named("delivery/requested").map((event) => event.data)).toEqual([
      { deliveryId: deliveries[0]!.id, cause: "settled" },
      { deliveryId: deliveries[1]!.id, cause: "subscribed_after_settlement" },
    ]);
    expect(flow.receiver.received).toHaveLength(2);
    expect(flow.receiver.received[1]!.headers["webhook-id"]).toBe(deliveries[1]!.id);
    expect(flow.receiver.received[1]!.verified).toMatchObject({ metadata: { late: true }, status: "completed" });
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    expect(flow.harness.named("batch/watch.requested")).toHaveLength(0);
  });
});

describe("tracking again", () => {
  test("a subscription untracked before settlement and tracked again afterwards gets its delivery", async () => {
    const held = recordingSender();
    await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: flow.receiver.url }, held.send);
    const later = await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: `${flow.receiver.url}?again=1`, metadata: { again: true } }, held.send);
    await untrackSubscription(flow.db, later.subscription.id);
    const { jobId } = await settleOne();
    await flow.harness.drain();
    expect(flow.receiver.received).toHaveLength(1);

    flow.harness.advance(10 * 60_000);
    const retracked = await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: `${flow.receiver.url}?again=1`, metadata: { again: true } }, flow.send);
    expect(retracked).toMatchObject({ created: false, subscription: { id: later.subscription.id, disabled_at: null } });
    await flow.harness.drain();

    const deliveries = await query<{ subscription_id: string }>("SELECT subscription_id FROM deliveries WHERE job_id = $1", [jobId]);
    expect(deliveries.map((delivery) => delivery.subscription_id)).toContain(later.subscription.id);
    expect(flow.receiver.received).toHaveLength(2);
    expect(flow.receiver.received[1]!.verified).toMatchObject({ metadata: { again: true } });
  });
});

describe("the reconciler's late subscribers", () => {
  test("a subscription re-enabled after settlement, created days before, gets its delivery when its track-batch run never ran", async () => {
    const held = recordingSender();
    await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: flow.receiver.url }, held.send);
    const later = await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: `${flow.receiver.url}?again=1` }, held.send);
    await untrackSubscription(flow.db, later.subscription.id);
    const { jobId } = await settleOne();
    await flow.harness.drain();

    // Re-enabled two days after it was created, past the reconciler's look-back by creation time.
    flow.harness.advance(LATE_SUBSCRIBER_LOOKBACK_MS * 2);
    await trackBatch(flow.db, { provider: "simulated", batchId: BATCH, webhookUrl: `${flow.receiver.url}?again=1` }, held.send);
    flow.harness.advance(10 * 60_000);
    const created = await deliverToLateSubscribers(flow.db, held.send);

    const deliveries = await query<{ id: string; subscription_id: string }>("SELECT id, subscription_id FROM deliveries WHERE job_id = $1 AND subscription_id = $2", [
      jobId,
      later.subscription.id,
    ]);
    expect(created).toEqual(deliveries.map((delivery) => delivery.id));
    expect(created).toHaveLength(1);
    expect(await deliverToLateSubscribers(flow.db, held.send)).toEqual([]);
  });
});

describe("secrets", () => {
  test("no signing secret appears in any event sent to Inngest nor in any stored row", async () => {
    const endpointSecret = generateWebhookSecret();
    const previousSecret = generateWebhookSecret();
    await insertEndpoint({
      name: "scan",
      url: flow.receiver.url,
      secret: endpointSecret,
      previousSecret,
      previousExpiresAt: new Date(flow.harness.now() + 3_600_000),
    });
    receiverSecret = endpointSecret;
    answers = [{ status: 500 }];
    const { deliveryIds } = await settleFor([{ endpoint: "scan" }, { webhookUrl: flow.receiver.url }]);
    await flow.harness.drain();
    await resendDelivery(flow.db, deliveryIds[0]!, flow.send);
    await flow.harness.drain();
    expect(flow.receiver.received.length).toBeGreaterThanOrEqual(3);

    const needles = [DEFAULT_SECRET, endpointSecret, previousSecret].flatMap((secret) => [secret, secret.slice("whsec_".length)]);
    expect(containsAny(flow.harness.received, needles)).toEqual([]);
    for (const table of ["jobs", "job_events", "subscriptions", "deliveries", "delivery_attempts", "outbox", "inbound_events"]) {
      const rows = await query(`SELECT to_jsonb(t) AS row FROM ${table} t`);
      expect({ table, leaked: containsAny(rows, needles) }).toEqual({ table, leaked: [] });
    }
    const [endpoint] = await query<{ secret_encrypted: string }>("SELECT secret_encrypted FROM endpoints");
    expect(containsAny(endpoint, needles)).toEqual([]);
  });
});
