import { describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as recover from "@/app/api/deliveries/recover/route";
import * as resend from "@/app/api/deliveries/[id]/resend/route";
import * as subscription from "@/app/api/subscriptions/[id]/route";
import { call, useApiHarness } from "../helpers/api";

const harness = useApiHarness();

const RECEIVER = "http://127.0.0.1:9/hooks";
const MISSING_ID = "3f1c2a4e-8b6d-4c1e-9a2f-7d5e6b4c3a21";

async function trackOne(batchId = "sim_90s_completed") {
  const response = await call(batches.POST, "POST", "/api/batches", {
    body: { provider: "simulated", batchId, webhookUrl: RECEIVER },
  });
  expect(response.status).toBe(202);
  return response.json as { job: { id: string }; subscription: { id: string } };
}

async function insertDelivery(id: string, status: string, failedAt: string | null = null) {
  const { job, subscription: sub } = await trackOne(`sim_${Math.floor(Math.random() * 1e6) + 1}s_completed`);
  await harness.db.query(
    `INSERT INTO deliveries (id, job_id, subscription_id, event_type, payload, status, failed_at)
     VALUES ($1, $2, $3, 'batch.completed', '{}', $4, $5)`,
    [id, job.id, sub.id, status, failedAt],
  );
}

describe("DELETE /api/subscriptions/{id}", () => {
  const untrack = (id: string) => call(subscription.DELETE, "DELETE", `/api/subscriptions/${id}`, { params: { id } });

  test("untracks: the subscription is disabled, not deleted, and untracking again is harmless", async () => {
    const { subscription: sub } = await trackOne();
    const response = await untrack(sub.id);
    expect(response.status).toBe(200);
    expect(response.json.subscription).toMatchObject({ id: sub.id, disabledReason: "untracked" });
    expect(response.json.subscription.disabledAt).not.toBeNull();
    const again = await untrack(sub.id);
    expect(again.json.subscription.disabledAt).toBe(response.json.subscription.disabledAt);
    const [row] = await harness.db.query<{ n: number }>("SELECT count(*)::int AS n FROM subscriptions");
    expect(row!.n).toBe(1);
  });

  test("tracking the same batch and destination again re-enables the subscription", async () => {
    const { subscription: sub } = await trackOne();
    await untrack(sub.id);
    const { subscription: again } = (await call(batches.POST, "POST", "/api/batches", {
      body: { provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER },
    })).json;
    expect(again).toMatchObject({ id: sub.id, disabledAt: null, disabledReason: null });
  });

  test.each([
    ["a subscription that does not exist", MISSING_ID, 404, "not_found"],
    ["an id that is not a UUID", "sub_1", 400, "invalid_request"],
  ])("%s → $2 $3", async (_name, id, status, code) => {
    const response = await untrack(id);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });
});

describe("POST /api/deliveries/{id}/resend", () => {
  const resendOne = (id: string) => call(resend.POST, "POST", `/api/deliveries/${id}/resend`, { params: { id } });

  test("queues the delivery again: 202, and delivery/requested is sent with cause resend", async () => {
    await insertDelivery("dlv_resend", "failed", "2026-01-01T00:00:00Z");
    const response = await resendOne("dlv_resend");
    expect(response.status).toBe(202);
    expect(response.json).toMatchObject({ deliveryId: "dlv_resend", eventId: expect.any(String) });
    expect(harness.events.named("delivery/requested")).toEqual([
      expect.objectContaining({ id: response.json.eventId, data: { deliveryId: "dlv_resend", cause: "resend" } }),
    ]);
  });

  test("a delivery that does not exist is 404", async () => {
    const response = await resendOne("dlv_missing");
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe("not_found");
  });
});

describe("POST /api/deliveries/recover", () => {
  const recoverSince = (body: unknown) => call(recover.POST, "POST", "/api/deliveries/recover", { body });

  test("re-sends every delivery that failed since the given time, and only those", async () => {
    await insertDelivery("dlv_old", "failed", "2026-01-01T00:00:00Z");
    await insertDelivery("dlv_recent", "failed", new Date(Date.now() - 60_000).toISOString());
    await insertDelivery("dlv_ok", "delivered");
    const response = await recoverSince({ since: new Date(Date.now() - 3_600_000).toISOString() });
    expect(response.status).toBe(202);
    expect(response.json).toEqual({
      resent: 1,
      deliveryIds: ["dlv_recent"],
      more: false,
      skipped: { endpoint_disabled: 0, subscription_disabled: 0 },
    });
    expect(harness.events.named("delivery/requested").map((event) => event.data)).toEqual([
      { deliveryId: "dlv_recent", cause: "recover" },
    ]);
  });

  test("dryRun: 200 with what it would re-send, by destination, and sends nothing", async () => {
    await insertDelivery("dlv_recent", "failed", new Date(Date.now() - 60_000).toISOString());
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const response = await recoverSince({ since, dryRun: true });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      since,
      resend: { count: 1, destinations: [{ endpointId: null, endpointName: null, webhookUrl: RECEIVER, count: 1 }] },
      skipped: [],
      truncated: false,
    });
    expect(harness.events.named("delivery/requested")).toEqual([]);
    const [row] = await harness.db.query<{ status: string }>("SELECT status FROM deliveries WHERE id = 'dlv_recent'");
    expect(row!.status).toBe("failed");
  });

  test.each([
    ["no since", {}, "since"],
    ["a since that is not a date", { since: "yesterday" }, "since"],
    ["a since in the future", { since: new Date(Date.now() + 86_400_000).toISOString() }, "since"],
  ])("%s → 400 invalid_request", async (_name, body, mentions) => {
    const response = await recoverSince(body);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_request");
    expect(response.json.error.message).toContain(mentions);
  });
});
