import { afterEach, describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import { setClock } from "@/lib/clock";
import { getProvider } from "@/lib/providers";
import { settleJob } from "@/lib/settle/settlement";
import { handleTrackedEvent } from "@/lib/track/tracking";
import { recordingSender } from "../helpers/durable";
import { call, useApiHarness } from "../helpers/api";

/**
 * Job groups: one group.settled per subscriber once every batch of the group has settled, whatever
 * the order; a batch joining a settled group reopens it and it settles again with a new event.
 * (Concurrent settles on real Postgres: test/settle/concurrency.test.ts.)
 */

const harness = useApiHarness();
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
afterEach(() => setClock());

const RECEIVER = "http://127.0.0.1:9/hooks";
const BATCHES = ["sim_1m_completed_10", "sim_1m_failed_10", "sim_1m_completed_20_f100"] as const;

async function track(batchId: string, extra: Record<string, unknown> = {}) {
  const response = await call(batches.POST, "POST", "/api/batches", {
    body: { provider: "simulated", batchId, webhookUrl: RECEIVER, ...extra },
  });
  expect(response.status, JSON.stringify(response.json)).toBeLessThan(300);
  return response.json as { job: { id: string }; subscription: { id: string; events: string[]; group: string | null } };
}

async function settle(jobId: string, batchId: string) {
  setClock(() => T0 + 10 * 60_000);
  const snapshot = await getProvider("simulated").retrieve(batchId, { kind: "batch", trackedAt: T0 });
  await settleJob(harness.db, jobId, { by: "poll", snapshot }, recordingSender().send);
}

async function groupDeliveries() {
  return harness.db.query<{ id: string; payload: Record<string, any>; topic: string; webhook_url: string }>(
    `SELECT d.id, d.payload, d.topic, s.webhook_url FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
     WHERE d.event_type = 'group.settled' ORDER BY d.created_at, s.webhook_url`,
  );
}

describe("a group of three batches", () => {
  test.each([[[0, 1, 2]], [[2, 0, 1]], [[1, 2, 0]]])("settling in the order %j: one group.settled, after the last, with each batch and the totals", async (order) => {
    setClock(() => T0);
    const tracked = [];
    for (const batchId of BATCHES) tracked.push(await track(batchId, { group: "nightly", metadata: { run: 7 } }));
    expect(tracked[0]!.subscription).toMatchObject({ group: "nightly", events: expect.arrayContaining(["batch.completed", "group.settled"]) });

    for (const [step, index] of order.entries()) {
      await settle(tracked[index]!.job.id, BATCHES[index]!);
      expect(await groupDeliveries()).toHaveLength(step === order.length - 1 ? 1 : 0);
    }
    const [delivery] = await groupDeliveries();
    expect(delivery!.topic).toBe("group:nightly:1");
    expect(delivery!.payload).toMatchObject({
      type: "group.settled",
      group: "nightly",
      settlement: 1,
      totals: {
        batches: 3,
        outcomes: { completed: 2, failed: 1, expired: 0, cancelled: 0 },
        requests: { total: 40, completed: 18, failed: 22 },
      },
      metadata: { run: 7 },
    });
    expect(delivery!.payload.batches.map((batch: { id: string; outcome: string }) => [batch.id, batch.outcome])).toEqual([
      ["sim_1m_completed_10", "completed"],
      ["sim_1m_completed_20_f100", "completed"],
      ["sim_1m_failed_10", "failed"],
    ]);
    expect(delivery!.payload.batches[1].results).toMatchObject({ verdict: "all_failed" });
  });

  test("goes to each subscriber of the group once, and only to those whose filter takes it", async () => {
    setClock(() => T0);
    const tracked = [];
    for (const batchId of BATCHES) tracked.push(await track(batchId, { group: "g" }));
    await track(BATCHES[0], { group: "g", webhookUrl: `${RECEIVER}/second` });
    await track(BATCHES[1], { group: "g", webhookUrl: `${RECEIVER}/outcomes-only`, events: ["batch.failed"] });
    await track(BATCHES[2], { webhookUrl: `${RECEIVER}/no-group` });
    for (const [index, batchId] of BATCHES.entries()) await settle(tracked[index]!.job.id, batchId);
    expect((await groupDeliveries()).map((delivery) => delivery.webhook_url)).toEqual([RECEIVER, `${RECEIVER}/second`]);
  });
});

describe("a batch joining a group after it settled", () => {
  test("reopens the group: it settles again, as settlement 2 with a new webhook-id, once that batch has settled", async () => {
    setClock(() => T0);
    const first = await track(BATCHES[0], { group: "g" });
    await settle(first.job.id, BATCHES[0]);
    expect(await groupDeliveries()).toHaveLength(1);

    setClock(() => T0);
    const late = await track(BATCHES[1], { group: "g" });
    expect(await groupDeliveries()).toHaveLength(1);
    await settle(late.job.id, BATCHES[1]);
    const deliveries = await groupDeliveries();
    expect(deliveries.map((delivery) => [delivery.topic, delivery.payload.settlement, delivery.payload.totals.batches])).toEqual([
      ["group:g:1", 1, 1],
      ["group:g:2", 2, 2],
    ]);
    expect(new Set(deliveries.map((delivery) => delivery.id)).size).toBe(2);
  });

  test("that has settled already settles the group again at once", async () => {
    setClock(() => T0);
    const first = await track(BATCHES[0], { group: "g" });
    const other = await track(BATCHES[1], { webhookUrl: `${RECEIVER}/other` });
    await settle(first.job.id, BATCHES[0]);
    await settle(other.job.id, BATCHES[1]);
    await track(BATCHES[1], { group: "g" });
    expect((await groupDeliveries()).map((delivery) => delivery.payload.settlement)).toEqual([1, 2]);
  });

  test("already in the group (tracked again, or for another destination) changes nothing", async () => {
    setClock(() => T0);
    const first = await track(BATCHES[0], { group: "g" });
    await settle(first.job.id, BATCHES[0]);
    await track(BATCHES[0], { group: "g" });
    const again = await track(BATCHES[0], { group: "g", webhookUrl: `${RECEIVER}/late` });
    await handleTrackedEvent(harness.db, { provider: "simulated", batchId: BATCHES[0], subscriptionId: again.subscription.id }, recordingSender().send);
    expect((await groupDeliveries()).map((delivery) => delivery.payload.settlement)).toEqual([1]);
  });
});

test.each([{ group: "" }, { group: "x".repeat(201) }, { group: 7 }])("group %j is a 400 invalid_request", async (body) => {
  const response = await call(batches.POST, "POST", "/api/batches", {
    body: { provider: "simulated", batchId: BATCHES[0], webhookUrl: RECEIVER, ...body },
  });
  expect(response.status).toBe(400);
  expect(response.json.error.code).toBe("invalid_request");
});
