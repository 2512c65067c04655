import { afterEach, describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as endpoints from "@/app/api/endpoints/route";
import * as endpoint from "@/app/api/endpoints/[id]/route";
import { setClock } from "@/lib/clock";
import { deliverToLateSubscribers, LATE_SUBSCRIBER_LOOKBACK_MS } from "@/lib/deliver/create-deliveries";
import { OUTCOME_EVENT_TYPES } from "@/lib/deliver/unified-event";
import { getProvider } from "@/lib/providers";
import { settleJob } from "@/lib/settle/settlement";
import { handleTrackedEvent } from "@/lib/track/tracking";
import { recordingSender } from "../helpers/durable";
import { call, useApiHarness } from "../helpers/api";

/** A subscription's `events` filter, an endpoint's default filter, and delivery creation honouring both. */

const harness = useApiHarness();
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
afterEach(() => setClock());

const RECEIVER = "http://127.0.0.1:9/hooks";
const track = (body: Record<string, unknown>) =>
  call(batches.POST, "POST", "/api/batches", { body: { provider: "simulated", ...body } });

/** Settles the simulated batch with its real outcome (the clock moved past its end). */
async function settle(jobId: string, batchId: string) {
  setClock(() => T0 + 10 * 60_000);
  const snapshot = await getProvider("simulated").retrieve(batchId, { kind: "batch", trackedAt: T0 });
  expect(snapshot.terminal).toBe(true);
  await settleJob(harness.db, jobId, { by: "poll", snapshot }, recordingSender().send);
}

async function deliveredTo(jobId: string): Promise<string[]> {
  const rows = await harness.db.query<{ url: string }>(
    `SELECT COALESCE(s.webhook_url, 'endpoint:' || e.name) AS url FROM deliveries d
     JOIN subscriptions s ON s.id = d.subscription_id LEFT JOIN endpoints e ON e.id = s.endpoint_id
     WHERE d.job_id = $1 ORDER BY url`,
    [jobId],
  );
  return rows.map((row) => row.url);
}

describe("a subscription's events filter", () => {
  test("defaults to the four outcomes, and the API says where the filter comes from", async () => {
    setClock(() => T0);
    const response = await track({ batchId: "sim_1m_failed_10", webhookUrl: RECEIVER });
    expect(response.json.subscription).toMatchObject({ events: [...OUTCOME_EVENT_TYPES], eventsFrom: "default" });
  });

  test.each([
    { batchId: "sim_1m_failed_10", outcome: "batch.failed", wants: ["batch.failed", "batch.expired"], delivered: true },
    { batchId: "sim_1m_completed_10", outcome: "batch.completed", wants: ["batch.failed", "batch.expired"], delivered: false },
    { batchId: "sim_1m_completed_10", outcome: "batch.completed", wants: ["batch.stalled"], delivered: false },
    { batchId: "sim_1m_cancelled_10", outcome: "batch.cancelled", wants: ["batch.cancelled", "batch.stalled"], delivered: true },
  ])("events $wants: a $outcome is delivered: $delivered", async ({ batchId, wants, delivered }) => {
    setClock(() => T0);
    const filtered = await track({ batchId, webhookUrl: `${RECEIVER}/filtered`, events: wants });
    expect(filtered.status).toBe(202);
    expect(filtered.json.subscription).toMatchObject({ events: wants, eventsFrom: "subscription" });
    await track({ batchId, webhookUrl: `${RECEIVER}/everything` });
    await settle(filtered.json.job.id, batchId);
    expect(await deliveredTo(filtered.json.job.id)).toEqual(
      delivered ? [`${RECEIVER}/everything`, `${RECEIVER}/filtered`] : [`${RECEIVER}/everything`],
    );
  });

  test("a filtered-out subscriber is not a late subscriber: the reconciler creates nothing for it", async () => {
    setClock(() => T0);
    const tracked = await track({ batchId: "sim_1m_completed_10", webhookUrl: RECEIVER, events: ["batch.failed"] });
    await settle(tracked.json.job.id, "sim_1m_completed_10");
    setClock(() => T0 + 24 * 3_600_000);
    expect(await deliverToLateSubscribers(harness.db, recordingSender().send)).toEqual([]);
  });

  test("a subscriber added after settlement whose filter takes the outcome gets it at once; one that does not, nothing", async () => {
    setClock(() => T0);
    const first = await track({ batchId: "sim_1m_completed_10", webhookUrl: `${RECEIVER}/first` });
    await settle(first.json.job.id, "sim_1m_completed_10");
    const sender = recordingSender();
    for (const [path, events] of [["/late-yes", ["batch.completed"]], ["/late-no", ["batch.failed"]]] as const) {
      const late = await track({ batchId: "sim_1m_completed_10", webhookUrl: `${RECEIVER}${path}`, events });
      await handleTrackedEvent(harness.db, { provider: "simulated", batchId: "sim_1m_completed_10", subscriptionId: late.json.subscription.id }, sender.send);
    }
    expect(await deliveredTo(first.json.job.id)).toEqual([`${RECEIVER}/first`, `${RECEIVER}/late-yes`]);
  });

  test("tracking again with a filter replaces the subscription's filter", async () => {
    setClock(() => T0);
    await track({ batchId: "sim_1m_completed_10", webhookUrl: RECEIVER });
    const again = await track({ batchId: "sim_1m_completed_10", webhookUrl: RECEIVER, events: ["batch.failed", "batch.failed"] });
    expect(again.status).toBe(200);
    expect(again.json.subscription).toMatchObject({ events: ["batch.failed"], eventsFrom: "subscription" });
  });

  test.each([
    { events: ["batch.finished"], message: "events.0" },
    { events: [], message: "events" },
    { events: "batch.failed", message: "events" },
    { events: ["webhook.test"], message: "events.0" },
  ])("events $events is a 400 invalid_request naming the field", async ({ events, message }) => {
    const response = await track({ batchId: "sim_1m_completed_10", webhookUrl: RECEIVER, events });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_request");
    expect(response.json.error.message).toContain(message);
  });
});

describe("an endpoint's default filter", () => {
  const createEndpoint = (body: Record<string, unknown>) =>
    call(endpoints.POST, "POST", "/api/endpoints", { body: { url: RECEIVER, ...body } });

  test("applies to its subscriptions without a filter of their own, and follows changes to it", async () => {
    setClock(() => T0);
    const created = await createEndpoint({ name: "alerts", events: ["batch.failed", "batch.stalled"] });
    expect(created.json.endpoint).toMatchObject({ events: ["batch.failed", "batch.stalled"], eventsSet: true });
    const completed = await track({ batchId: "sim_1m_completed_10", endpoint: "alerts" });
    expect(completed.json.subscription).toMatchObject({ events: ["batch.failed", "batch.stalled"], eventsFrom: "endpoint" });
    const own = await track({ batchId: "sim_2m_completed_10", endpoint: "alerts", events: ["batch.completed"] });
    await settle(completed.json.job.id, "sim_1m_completed_10");
    await settle(own.json.job.id, "sim_2m_completed_10");
    expect(await deliveredTo(completed.json.job.id)).toEqual([]);
    expect(await deliveredTo(own.json.job.id)).toEqual(["endpoint:alerts"]);

    // Changed hours later, past the reconciler's look-back from when the subscription was made.
    setClock(() => T0 + LATE_SUBSCRIBER_LOOKBACK_MS + 3_600_000);
    const id = created.json.endpoint.id;
    const reset = await call(endpoint.PATCH, "PATCH", `/api/endpoints/${id}`, { body: { events: null }, params: { id } });
    expect(reset.json.endpoint).toMatchObject({ events: [...OUTCOME_EVENT_TYPES], eventsSet: false });
    // The reconciler's next pass after the change (past its grace), however old the subscription.
    setClock(() => T0 + LATE_SUBSCRIBER_LOOKBACK_MS + 3_600_000 + 10 * 60_000);
    await deliverToLateSubscribers(harness.db, recordingSender().send);
    expect(await deliveredTo(completed.json.job.id)).toEqual(["endpoint:alerts"]);
  });

  test("an unknown event type in an endpoint's filter is a 400", async () => {
    const response = await createEndpoint({ name: "bad", events: ["batch.done"] });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_request");
  });
});
