import { describe, expect, test } from "vitest";
import { pruneRetention } from "@/inngest/functions/prune-retention";
import { deleteExpiredHistory, RETENTION_BATCH_JOBS } from "@/lib/ops/retention";
import { useApiHarness } from "../helpers/api";

const harness = useApiHarness();

const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY);

async function ids(sql: string) {
  return (await harness.db.query<{ id: string }>(sql)).map((row) => String(row.id)).sort();
}

describe("deleteExpiredHistory", () => {
  test("deletes history older than the retention period and keeps everything newer or still running", async () => {
    const db = harness.db;
    const insertJob = async (batchId: string, trackedDaysAgo: number, settledDaysAgo: number | null) => {
      const [row] = await db.query<{ id: string }>(
        "INSERT INTO jobs (provider, batch_id, tracked_at, settled_at) VALUES ('simulated', $1, $2, $3) RETURNING id",
        [batchId, daysAgo(trackedDaysAgo), settledDaysAgo === null ? null : daysAgo(settledDaysAgo)],
      );
      return row!.id;
    };
    const oldSettled = await insertJob("old-settled", 40, 35);
    const recentSettled = await insertJob("recent-settled", 40, 5);
    await insertJob("old-unsettled", 60, null);
    await db.query(
      `INSERT INTO deliveries (id, job_id, event_type, payload, created_at, status) VALUES
         ('dlv_old_job', $1, 'batch.completed', '{}', $3, 'delivered'),
         ('dlv_recent_job', $2, 'batch.completed', '{}', $3, 'delivered'),
         ('dlv_old_test', NULL, 'webhook.test', '{}', $3, 'failed'),
         ('dlv_new_test', NULL, 'webhook.test', '{}', now(), 'delivered')`,
      [oldSettled, recentSettled, daysAgo(35)],
    );
    await db.query(
      `INSERT INTO delivery_attempts (delivery_id, run_id, attempt, attempted_at, duration_ms) VALUES
         ('dlv_recent_job', 'r', 0, $1, 5), ('dlv_recent_job', 'r', 1, now(), 5)`,
      [daysAgo(31)],
    );
    await db.query(
      `INSERT INTO inbound_events (source, webhook_id, event_type, payload, received_at) VALUES
         ('gemini', 'old', 'batch.succeeded', '{}', $1), ('gemini', 'new', 'batch.succeeded', '{}', now())`,
      [daysAgo(31)],
    );
    await db.query(
      `INSERT INTO outbox (event_id, name, data, sent_at) VALUES
         ('sent-old', 'batch/tracked', '{}', $1), ('sent-new', 'batch/tracked', '{}', now()), ('unsent-old', 'batch/tracked', '{}', NULL)`,
      [daysAgo(31)],
    );

    const result = await deleteExpiredHistory(db, { olderThanDays: 30 });

    expect(result).toMatchObject({ inboundEvents: 1, deliveryAttempts: 1, jobs: 1, testDeliveries: 1, sentOutboxEvents: 1 });
    expect(await ids("SELECT batch_id AS id FROM jobs")).toEqual(["old-unsettled", "recent-settled"]);
    expect(await ids("SELECT id FROM deliveries")).toEqual(["dlv_new_test", "dlv_recent_job"]);
    expect(await ids("SELECT attempt::text AS id FROM delivery_attempts")).toEqual(["1"]);
    expect(await ids("SELECT webhook_id AS id FROM inbound_events")).toEqual(["new"]);
    expect(await ids("SELECT event_id AS id FROM outbox")).toEqual(["sent-new", "unsent-old"]);
  });

  test.each([0, -1, Number.NaN])("refuses a retention of %s days", async (days) => {
    await expect(deleteExpiredHistory(harness.db, { olderThanDays: days })).rejects.toThrow(RangeError);
  });

  test.each([
    ["still being delivered", "pending", 35],
    ["delivered recently (a late subscriber or a resend)", "delivered", 1],
  ])("keeps an old settled job whose delivery is %s", async (_, status, createdDaysAgo) => {
    const [job] = await harness.db.query<{ id: string }>(
      "INSERT INTO jobs (provider, batch_id, tracked_at, settled_at) VALUES ('simulated', 'old-but-busy', $1, $1) RETURNING id",
      [daysAgo(40)],
    );
    await harness.db.query(
      "INSERT INTO deliveries (id, job_id, event_type, payload, created_at, status) VALUES ('dlv_busy', $1, 'batch.completed', '{}', $2, $3)",
      [job!.id, daysAgo(createdDaysAgo), status],
    );
    await deleteExpiredHistory(harness.db, { olderThanDays: 30 });
    expect(await ids("SELECT id FROM jobs")).toEqual([job!.id]);
    expect(await ids("SELECT id FROM deliveries")).toEqual(["dlv_busy"]);
  });

  test("deletes a job group once none of its batches is left, and keeps groups with a batch or settled lately", async () => {
    const db = harness.db;
    const member = async (batchId: string, group: string, settledDaysAgo: number) => {
      const [job] = await db.query<{ id: string }>(
        "INSERT INTO jobs (provider, batch_id, tracked_at, settled_at) VALUES ('simulated', $1, $2, $2) RETURNING id",
        [batchId, daysAgo(settledDaysAgo)],
      );
      await db.query(
        "INSERT INTO subscriptions (job_id, destination_key, webhook_url, group_key) VALUES ($1, $2, 'https://hooks.example.com/x', $3)",
        [job!.id, `url:https://hooks.example.com/${batchId}`, group],
      );
    };
    await member("gone-1", "eval-gone", 40);
    await member("gone-2", "eval-gone", 35);
    await member("old-member", "eval-mixed", 40);
    await member("recent-member", "eval-mixed", 3);
    await db.query(
      `INSERT INTO job_groups (key, created_at, settled_at, settlements) VALUES
         ('eval-gone', $1, $2, 1), ('eval-mixed', $1, $3, 2), ('eval-empty-recent', $3, $3, 1)`,
      [daysAgo(41), daysAgo(35), daysAgo(3)],
    );

    const result = await deleteExpiredHistory(db, { olderThanDays: 30 });

    expect(result).toMatchObject({ jobs: 3, groups: 1 });
    expect(await ids("SELECT key AS id FROM job_groups")).toEqual(["eval-empty-recent", "eval-mixed"]);
  });

  test("runs daily at 03:30 UTC as the prune-retention function", () => {
    const config = pruneRetention["getConfig"]({ baseUrl: new URL("http://localhost/api/inngest"), appPrefix: "batchwatch" });
    expect(config[0]).toMatchObject({ id: "batchwatch-prune-retention", triggers: [{ cron: "TZ=UTC 30 3 * * *" }] });
  });
});

describe("deleteExpiredHistory in bounded batches", () => {
  const insertOldSettledJobs = (count: number) =>
    harness.db.query(
      `INSERT INTO jobs (provider, batch_id, tracked_at, settled_at)
       SELECT 'simulated', 'old-' || i, $2::timestamptz, $2::timestamptz FROM generate_series(1, $1::int) i`,
      [count, daysAgo(40)],
    );

  test("deletes more jobs than one batch holds, a batch per statement", async () => {
    await insertOldSettledJobs(RETENTION_BATCH_JOBS * 2 + 7);
    const result = await deleteExpiredHistory(harness.db, { olderThanDays: 30 });
    expect(result).toMatchObject({ jobs: RETENTION_BATCH_JOBS * 2 + 7, done: true });
    // Three statements for the jobs, one for each other table.
    expect(result.statements).toBe(3 + 5);
    expect(await ids("SELECT id FROM jobs")).toEqual([]);
  });

  test("stops when its budget is spent and a second run with the same cutoff finishes", async () => {
    await insertOldSettledJobs(3);
    const first = await deleteExpiredHistory(harness.db, { olderThanDays: 30, budgetMs: 0 });
    expect(first).toMatchObject({ jobs: 0, statements: 0, done: false });
    const second = await deleteExpiredHistory(harness.db, { olderThanDays: 30, cutoff: first.cutoff });
    expect(second).toMatchObject({ cutoff: first.cutoff, jobs: 3, done: true });
  });
});
