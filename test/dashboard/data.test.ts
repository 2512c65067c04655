import { beforeEach, describe, expect, test } from "vitest";
import { loadBatchList, loadBatchPage, parseBatchFilters, BATCHES_PER_PAGE, RUNNING_COUNT_CAP, searchJobsByBatchId } from "@/lib/dashboard/batches";
import { DELIVERY_COUNT_CAP, loadDeliveriesOverview, recoverSinceSchema } from "@/lib/dashboard/deliveries";
import { batchIdFromSegments } from "@/lib/dashboard/format";
import { buildTimeline } from "@/lib/dashboard/timeline";
import { createEndpoint } from "@/lib/deliver/endpoints";
import { trackBatch } from "@/lib/track/tracking";
import { useFlow } from "../helpers/flow";

const SECRET = process.env.BATCH_WEBHOOK_SECRET!;

let receiverStatus = 200;

const flow = useFlow({ receiver: { secret: SECRET, respond: () => ({ status: receiverStatus }) } });
beforeEach(() => {
  receiverStatus = 200;
});

const noFilters = parseBatchFilters({});

async function insertJob(fields: { provider?: string; kind?: string; batchId: string; status?: string; trackedAt?: Date; detail?: object }) {
  const [row] = await flow.db.query<{ id: string }>(
    `INSERT INTO jobs (provider, kind, batch_id, status, tracked_at, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      fields.provider ?? "simulated",
      fields.kind ?? "batch",
      fields.batchId,
      fields.status ?? "in_progress",
      fields.trackedAt ?? new Date(),
      fields.detail ? JSON.stringify(fields.detail) : null,
    ],
  );
  return row!.id;
}

describe("the batches list", () => {
  test("is empty, and says nothing was ever tracked, on a fresh install", async () => {
    const list = await loadBatchList(flow.db, noFilters);
    expect(list).toMatchObject({ batches: [], running: 0, runningMore: false, anyTracked: false, nextCursor: null, problem: null });
  });

  test("shows tracked batches newest first with active subscriber counts and how many still run", async () => {
    await trackBatch(flow.db, { provider: "simulated", batchId: "sim_2m_completed_50", webhookUrl: flow.receiver.url }, flow.send);
    flow.harness.advance(1000);
    await trackBatch(flow.db, { provider: "simulated", batchId: "sim_5m_failed_10", webhookUrl: flow.receiver.url }, flow.send);
    await trackBatch(flow.db, { provider: "simulated", batchId: "sim_5m_failed_10", webhookUrl: `${flow.receiver.url}?second` }, flow.send);

    const list = await loadBatchList(flow.db, noFilters);
    expect(list.batches.map((batch) => [batch.batchId, batch.subscriberCount, batch.status])).toEqual([
      ["sim_5m_failed_10", 2, "validating"],
      ["sim_2m_completed_50", 1, "validating"],
    ]);
    expect(list).toMatchObject({ running: 2, anyTracked: true });

    await flow.harness.drain();
    const after = await loadBatchList(flow.db, noFilters);
    expect(after.running).toBe(0);
    expect(after.batches.map((batch) => [batch.batchId, batch.outcome, batch.requestCounts?.total])).toEqual([
      ["sim_5m_failed_10", "failed", 10],
      ["sim_2m_completed_50", "completed", 50],
    ]);
  });

  test("filters by status and provider", async () => {
    await insertJob({ batchId: "sim_a", status: "in_progress" });
    await insertJob({ batchId: "sim_b", status: "completed" });
    await insertJob({ provider: "openai", batchId: "batch_c", status: "completed" });

    const completed = await loadBatchList(flow.db, parseBatchFilters({ status: "completed" }));
    expect(completed.batches.map((batch) => batch.batchId).sort()).toEqual(["batch_c", "sim_b"]);
    const openai = await loadBatchList(flow.db, parseBatchFilters({ status: "completed", provider: "openai" }));
    expect(openai.batches.map((batch) => batch.batchId)).toEqual(["batch_c"]);
  });

  test("searches batch ids by case-insensitive substring, taking % and _ literally", async () => {
    await insertJob({ provider: "gemini", batchId: "batches/ABC123" });
    await insertJob({ batchId: "sim_abc" });
    await insertJob({ batchId: "sim_x%y" });
    await insertJob({ batchId: "sim_xzy" });

    const found = await loadBatchList(flow.db, parseBatchFilters({ q: "abc" }));
    expect(found.batches.map((batch) => batch.batchId).sort()).toEqual(["batches/ABC123", "sim_abc"]);
    expect((await searchJobsByBatchId(flow.db, "x%y")).jobs.map((job) => job.batchId)).toEqual(["sim_x%y"]);
    expect((await searchJobsByBatchId(flow.db, "abc", { provider: "gemini" })).jobs).toHaveLength(1);
  });

  test("finds a complete batch id exactly, without the ids that merely contain it", async () => {
    await insertJob({ provider: "openai", batchId: "batch_abc" });
    await insertJob({ provider: "openai", kind: "response", batchId: "batch_abc" });
    await insertJob({ provider: "openai", batchId: "batch_abc_2" });

    const exact = await searchJobsByBatchId(flow.db, "batch_abc");
    expect(exact.jobs.map((job) => [job.batchId, job.kind]).sort()).toEqual([["batch_abc", "batch"], ["batch_abc", "response"]]);
    expect((await searchJobsByBatchId(flow.db, "batch_abc", { status: "completed" })).jobs.map((job) => job.batchId)).toEqual([]);
    expect((await searchJobsByBatchId(flow.db, "BATCH_ABC")).jobs).toHaveLength(3);
  });

  test("counts running batches up to a cap and says when there are more", async () => {
    await flow.db.query(
      "INSERT INTO jobs (provider, batch_id) SELECT 'simulated', 'sim_run_' || i FROM generate_series(1, $1::int) i",
      [RUNNING_COUNT_CAP + 1],
    );
    expect(await loadBatchList(flow.db, noFilters)).toMatchObject({ running: RUNNING_COUNT_CAP, runningMore: true });
    await flow.db.query("UPDATE jobs SET settled_at = now() WHERE batch_id = 'sim_run_1'");
    expect(await loadBatchList(flow.db, noFilters)).toMatchObject({ running: RUNNING_COUNT_CAP, runningMore: false });
  });

  test("pages with a cursor, and falls back to the first page when the cursor is not ours", async () => {
    const start = Date.UTC(2026, 0, 1);
    for (let index = 0; index <= BATCHES_PER_PAGE; index++) {
      await insertJob({ batchId: `sim_${String(index).padStart(2, "0")}`, trackedAt: new Date(start + index * 1000) });
    }
    const first = await loadBatchList(flow.db, noFilters);
    expect(first.batches).toHaveLength(BATCHES_PER_PAGE);
    expect(first.batches[0]!.batchId).toBe(`sim_${BATCHES_PER_PAGE}`);
    const second = await loadBatchList(flow.db, parseBatchFilters({ cursor: first.nextCursor! }));
    expect(second.batches.map((batch) => batch.batchId)).toEqual(["sim_00"]);
    expect(second.nextCursor).toBeNull();

    const stale = await loadBatchList(flow.db, parseBatchFilters({ cursor: "not-a-cursor" }));
    expect(stale.problem).toMatch(/first page/);
    expect(stale.batches).toHaveLength(BATCHES_PER_PAGE);
  });

  test("ignores filter values it does not know instead of failing", () => {
    expect(parseBatchFilters({ status: "bogus", provider: ["openai", "gemini"], q: "  ", cursor: "" })).toEqual({
      status: undefined,
      provider: "openai",
      q: undefined,
      cursor: undefined,
    });
  });
});

describe("a batch page", () => {
  test("shows the settled job, the event exactly as sent to each subscriber, and one timeline of everything", async () => {
    await trackBatch(flow.db, {
      provider: "simulated",
      batchId: "sim_2m_completed_50",
      webhookUrl: flow.receiver.url,
      metadata: { team: "search" },
    }, flow.send);
    await flow.harness.drain();

    const page = await loadBatchPage(flow.db, "simulated", "sim_2m_completed_50");
    expect(page).not.toBeNull();
    expect(page!.job).toMatchObject({ status: "completed", outcome: "completed", requestCounts: { total: 50 } });
    expect(page!.kindDetail).toBeNull();
    expect(page!.subscriberCount).toBe(1);
    expect(page!.deliveries).toHaveLength(1);
    const delivery = page!.deliveries[0]!;
    expect(page!.payloads[delivery.id]).toEqual(JSON.parse(flow.receiver.received[0]!.body));
    expect(page!.payloads[delivery.id]).toMatchObject({ type: "batch.completed", metadata: { team: "search" } });

    const timeline = buildTimeline(page!, page!.endpointNames);
    const titles = timeline.map((entry) => entry.title);
    expect(titles.slice(0, 3)).toEqual(["Tracked", "Subscriber added", "Watch started"]);
    expect(titles).toContain("Polled");
    expect(titles.indexOf("Settled: completed")).toBeLessThan(titles.indexOf("Delivery created: batch.completed"));
    expect(titles.at(-1)).toBe("Attempt 1: HTTP 200");
    expect(timeline.at(-1)).toMatchObject({ kind: "attempt", tone: "ok", deliveryId: delivery.id });
    expect(timeline.map((entry) => Date.parse(entry.at))).toEqual(
      [...timeline.map((entry) => Date.parse(entry.at))].sort((a, b) => a - b),
    );
  });

  test("finds a Gemini batch whose id contains a slash from the URL's path segments", async () => {
    await insertJob({ provider: "gemini", batchId: "batches/123" });
    const page = await loadBatchPage(flow.db, "gemini", batchIdFromSegments(["batches", "123"]));
    expect(page?.job.batchId).toBe("batches/123");
  });

  test("shows the per-kind detail object for non-batch kinds", async () => {
    await insertJob({ provider: "openai", kind: "fine_tuning_job", batchId: "ftjob_1", detail: { fineTunedModel: "ft:gpt:x" } });
    const page = await loadBatchPage(flow.db, "openai", "ftjob_1");
    expect(page).toMatchObject({ job: { kind: "fine_tuning_job" }, kindDetail: { fineTunedModel: "ft:gpt:x" } });
  });

  test("is null for an unknown provider or an untracked id", async () => {
    await insertJob({ batchId: "sim_1" });
    expect(await loadBatchPage(flow.db, "nope", "sim_1")).toBeNull();
    expect(await loadBatchPage(flow.db, "simulated", "sim_2")).toBeNull();
  });
});

describe("the deliveries page", () => {
  test("lists failed deliveries apart from the recent ones, labelled by batch and destination", async () => {
    await createEndpoint(flow.db, { name: "ops-hook", url: flow.receiver.url });
    await trackBatch(flow.db, { provider: "simulated", batchId: "sim_1m_completed_5", endpoint: "ops-hook" }, flow.send);
    await flow.harness.drain();
    // 410 Gone fails a delivery at once (a 5xx would be retried for two days of fake time).
    receiverStatus = 410;
    await trackBatch(flow.db, { provider: "simulated", batchId: "sim_1m_failed_5", webhookUrl: `${flow.receiver.url}?token=abc` }, flow.send);
    await flow.harness.drain();

    const overview = await loadDeliveriesOverview(flow.db);
    expect(overview.failedCount).toBe(1);
    expect(overview.pending).toBe(0);
    expect(overview.failed[0]).toMatchObject({
      status: "failed",
      eventType: "batch.failed",
      lastStatusCode: 410,
      job: { provider: "simulated", kind: "batch", batchId: "sim_1m_failed_5" },
      destination: `${new URL(flow.receiver.url).origin}/hooks/batch?…`,
    });
    expect(overview.failed[0]!.attemptCount).toBe(1);
    expect(overview.recent).toEqual([
      expect.objectContaining({ status: "delivered", destination: "endpoint ops-hook", job: expect.objectContaining({ batchId: "sim_1m_completed_5" }) }),
    ]);
  });

  test("counts failed and in-flight deliveries up to a cap and says when there are more", async () => {
    const insert = (status: string, prefix: string, n: number) =>
      flow.db.query(
        `INSERT INTO deliveries (id, event_type, payload, status, failed_at)
         SELECT $2 || i, 'webhook.test', '{}'::jsonb, $1, CASE WHEN $1 = 'failed' THEN now() END FROM generate_series(1, $3::int) i`,
        [status, prefix, n],
      );
    await insert("failed", "msg_failed_", DELIVERY_COUNT_CAP + 1);
    await insert("pending", "msg_pending_", 3);
    expect(await loadDeliveriesOverview(flow.db)).toMatchObject({
      failedCount: DELIVERY_COUNT_CAP,
      pending: 3,
      countsCapped: { failed: true, pending: false },
    });
    await flow.db.query("DELETE FROM deliveries WHERE id = 'msg_failed_1'");
    expect(await loadDeliveriesOverview(flow.db)).toMatchObject({ failedCount: DELIVERY_COUNT_CAP, countsCapped: { failed: false } });
  });

  test("reads the recover form's date-time as UTC", () => {
    expect(recoverSinceSchema.parse({ since: "2026-11-23T09:30" }).since.toISOString()).toBe("2026-11-23T09:30:00.000Z");
    expect(recoverSinceSchema.safeParse({ since: "yesterday" }).success).toBe(false);
  });
});
