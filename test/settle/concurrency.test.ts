import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { setClock } from "@/lib/clock";
import type { Database } from "@/lib/db";
import { getProvider } from "@/lib/providers";
import { deleteExpiredHistory } from "@/lib/ops/retention";
import { joinGroup } from "@/lib/settle/groups";
import { settleJob } from "@/lib/settle/settlement";
import { acceptNativeSignal, applySignal } from "@/lib/watch/native-signals";
import { handleTrackedEvent, trackBatch } from "@/lib/track/tracking";
import { pollOnce } from "@/lib/watch/watching";
import { createTestDatabase, resetDatabase, TEST_DRIVERS, type TestDatabase, type TestDriver } from "../helpers/db";
import { recordingSender } from "../helpers/durable";

/**
 * Races on real Postgres: many settle attempts, trackings and watch claims for one batch at once,
 * each on a connection of its own from several pools, as several app instances would be.
 */

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const BATCH = "sim_1m_completed_50";
const POOLS = 4;

const REAL_POSTGRES = TEST_DRIVERS.includes("pg");
// Without TEST_DATABASE_URL the suite is still listed, as skipped.
const drivers = REAL_POSTGRES ? (["pg", "neon"] as TestDriver[]).filter((driver) => TEST_DRIVERS.includes(driver)) : (["pg"] as TestDriver[]);

describe.runIf(REAL_POSTGRES).each(drivers)("on real Postgres through the %s driver", (driver) => {
  let testDb: TestDatabase;
  let pools: Database[];
  const pool = (index: number) => pools[index % pools.length]!;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver);
    pools = [testDb.db, ...(await Promise.all(Array.from({ length: POOLS - 1 }, () => testDb.open())))];
  });
  afterAll(async () => {
    await testDb?.drop();
  });
  beforeEach(async () => {
    await resetDatabase(testDb.db);
    setClock(() => T0);
  });
  afterEach(() => setClock());

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await testDb.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM (${sql}) counted`, params))[0]!.n);

  async function trackedWithWatcher(subscribers: number) {
    const sender = recordingSender();
    let jobId = "";
    for (let index = 0; index < subscribers; index++) {
      const tracked = await trackBatch(
        testDb.db,
        { provider: "simulated", batchId: BATCH, webhookUrl: `https://receiver.example/hooks/${index}` },
        sender.send,
      );
      jobId = tracked.job.id;
    }
    const claimed = await handleTrackedEvent(testDb.db, sender.named("batch/tracked")[0]!.data as never, sender.send);
    expect(claimed.watchStarted).toBe(true);
    return { jobId, sender };
  }

  test("200 concurrent settle attempts (settleJob, applySignal, pollOnce) settle once: one batch/settled, one delivery per subscriber", async () => {
    const { jobId } = await trackedWithWatcher(3);
    const setup = recordingSender();
    const { inboundEventId } = await acceptNativeSignal(
      testDb.db,
      { source: "openai", webhookId: "wh_race", eventType: "batch.completed", objectId: BATCH, provider: "simulated", kind: "batch", payload: {} },
      setup.send,
    );
    setClock(() => T0 + 5 * 60_000);
    const [job] = await testDb.db.query<{ tracked_at: Date }>("SELECT tracked_at FROM jobs WHERE id = $1", [jobId]);
    const snapshot = await getProvider("simulated").retrieve(BATCH, { kind: "batch", trackedAt: job!.tracked_at.getTime() });
    expect(snapshot.terminal).toBe(true);

    const sender = recordingSender();
    const attempts = Array.from({ length: 200 }, (_, index) => {
      const db = pool(index);
      switch (index % 3) {
        case 0:
          return settleJob(db, jobId, { by: "poll", snapshot }, sender.send).then((result) => ({ via: "settleJob", won: result.settled }));
        case 1:
          return applySignal(db, { provider: "simulated", kind: "batch", batchId: BATCH, inboundEventId, eventType: "batch.completed" }, sender.send).then(
            (result) => ({ via: "applySignal", won: result.outcome === "settled" }),
          );
        default:
          return pollOnce(db, { jobId, generation: 1 }, sender.send).then((decision) => ({
            via: "pollOnce",
            // pollOnce answers settled_now whether or not its own settleJob won the race.
            won: null as boolean | null,
            decision,
          }));
      }
    });
    const outcomes = await Promise.allSettled(attempts);

    const rejected = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(rejected.map((outcome) => String((outcome as PromiseRejectedResult).reason))).toEqual([]);
    const results = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<{ via: string; won: boolean | null }>).value);
    const explicitWins = results.filter((result) => result.won === true);
    expect(explicitWins.length).toBeLessThanOrEqual(1);

    const [settled] = await testDb.db.query<{ settled_at: Date | null; settled_by: string; outcome: string }>(
      "SELECT settled_at, settled_by, outcome FROM jobs WHERE id = $1",
      [jobId],
    );
    expect(settled).toMatchObject({ outcome: "completed" });
    expect(settled!.settled_at).toBeInstanceOf(Date);
    // Exactly one winner: a settleJob or applySignal that said so, or else one of the pollers.
    if (explicitWins.length === 1) expect(settled!.settled_by).toBe(explicitWins[0]!.via === "applySignal" ? "signal" : "poll");
    else expect(settled!.settled_by).toBe("poll");

    expect(await count("SELECT 1 FROM job_events WHERE job_id = $1 AND type = 'settled'", [jobId])).toBe(1);
    expect(await count("SELECT 1 FROM outbox WHERE name = 'batch/settled'")).toBe(1);
    expect(sender.named("batch/settled")).toHaveLength(1);
    expect(await count("SELECT 1 FROM deliveries WHERE job_id = $1", [jobId])).toBe(3);
    expect(await count("SELECT DISTINCT subscription_id FROM deliveries WHERE job_id = $1", [jobId])).toBe(3);
    const requested = sender.named("delivery/requested");
    expect(requested).toHaveLength(3);
    expect(new Set(requested.map((event) => event.id)).size).toBe(3);
    expect(await count("SELECT 1 FROM outbox WHERE sent_at IS NULL")).toBe(0);
  });

  test("20 subscribers tracking one batch at once: 20 subscriptions, one live watcher (one batch/watch.requested, generation 1)", async () => {
    const sender = recordingSender();
    const tracked = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        trackBatch(pool(index), { provider: "simulated", batchId: BATCH, webhookUrl: `https://receiver.example/hooks/${index}` }, sender.send),
      ),
    );
    expect(tracked.every((result) => result.created)).toBe(true);
    expect(new Set(tracked.map((result) => result.job.id)).size).toBe(1);
    const trackedEvents = sender.named("batch/tracked");
    expect(trackedEvents).toHaveLength(20);
    expect(new Set(trackedEvents.map((event) => event.id)).size).toBe(20);

    const watchSender = recordingSender();
    const handled = await Promise.all(
      trackedEvents.map((event, index) => handleTrackedEvent(pool(index), event.data as never, watchSender.send)),
    );

    expect(handled.filter((result) => result.watchStarted)).toHaveLength(1);
    expect(watchSender.named("batch/watch.requested")).toHaveLength(1);
    expect(watchSender.named("batch/watch.requested")[0]!.data).toMatchObject({ jobId: tracked[0]!.job.id, generation: 1, continuation: 0 });
    const [job] = await testDb.db.query<{ watch_generation: number }>("SELECT watch_generation FROM jobs");
    expect(job!.watch_generation).toBe(1);
    expect(await count("SELECT 1 FROM jobs")).toBe(1);
    expect(await count("SELECT 1 FROM subscriptions WHERE disabled_at IS NULL")).toBe(20);
    expect(await count("SELECT 1 FROM job_events WHERE type = 'tracked'")).toBe(1);
    expect(await count("SELECT 1 FROM job_events WHERE type = 'subscribed'")).toBe(20);
    expect(await count("SELECT 1 FROM job_events WHERE type = 'watch_started'")).toBe(1);
  });

  test("one destination tracked 10 times at once gives one subscription", async () => {
    const sender = recordingSender();
    const tracked = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        trackBatch(pool(index), { provider: "simulated", batchId: BATCH, webhookUrl: "https://receiver.example/hooks/same" }, sender.send),
      ),
    );
    expect(tracked.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(tracked.map((result) => result.subscription.id)).size).toBe(1);
    expect(await count("SELECT 1 FROM subscriptions")).toBe(1);
    expect(await count("SELECT 1 FROM job_events WHERE type = 'subscribed'")).toBe(1);
    // Every send carries the one subscription's event id, so Inngest keeps one.
    expect(new Set(sender.named("batch/tracked").map((event) => event.id)).size).toBe(1);
  });

  test("subscribers joining while the batch settles each get exactly one delivery", async () => {
    const { jobId } = await trackedWithWatcher(1);
    setClock(() => T0 + 5 * 60_000);
    const snapshot = await getProvider("simulated").retrieve(BATCH, { kind: "batch", trackedAt: T0 });
    const sender = recordingSender();

    const joiners = Array.from({ length: 20 }, async (_, index) => {
      const db = pool(index);
      const local = recordingSender();
      await trackBatch(db, { provider: "simulated", batchId: BATCH, webhookUrl: `https://receiver.example/late/${index}` }, local.send);
      return handleTrackedEvent(db, local.named("batch/tracked")[0]!.data as never, sender.send);
    });
    const settlers = Array.from({ length: 20 }, (_, index) => settleJob(pool(index + 1), jobId, { by: "poll", snapshot }, sender.send));
    const outcomes = await Promise.allSettled([...joiners, ...settlers]);
    expect(outcomes.filter((outcome) => outcome.status === "rejected").map((outcome) => String((outcome as PromiseRejectedResult).reason))).toEqual([]);

    expect(await count("SELECT 1 FROM subscriptions")).toBe(21);
    expect(await count("SELECT 1 FROM deliveries")).toBe(21);
    expect(await count("SELECT 1 FROM subscriptions s WHERE (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id) <> 1")).toBe(0);
    expect(sender.named("batch/settled")).toHaveLength(1);
    expect(new Set(sender.named("delivery/requested").map((event) => event.data.deliveryId)).size).toBe(21);
  });

  test("groups of three batches whose batches settle at once, each twice, settle once each: one group.settled per group", async () => {
    const GROUPS = 10;
    const jobs: { jobId: string; batchId: string }[] = [];
    const tracker = recordingSender();
    for (let group = 0; group < GROUPS; group++) {
      for (let member = 0; member < 3; member++) {
        const batchId = `sim_1m_completed_${100 + group * 3 + member}`;
        const tracked = await trackBatch(
          testDb.db,
          { provider: "simulated", batchId, webhookUrl: "https://receiver.example/groups", group: `g${group}` },
          tracker.send,
        );
        jobs.push({ jobId: tracked.job.id, batchId });
      }
    }
    setClock(() => T0 + 5 * 60_000);
    const sender = recordingSender();
    const attempts = [...jobs, ...jobs].map(async ({ jobId, batchId }, index) => {
      const snapshot = await getProvider("simulated").retrieve(batchId, { kind: "batch", trackedAt: T0 });
      return settleJob(pool(index), jobId, { by: "poll", snapshot }, sender.send);
    });
    const outcomes = await Promise.allSettled(attempts);
    expect(outcomes.filter((outcome) => outcome.status === "rejected").map((outcome) => String((outcome as PromiseRejectedResult).reason))).toEqual([]);

    expect(await count("SELECT 1 FROM jobs WHERE settled_at IS NULL")).toBe(0);
    const perGroup = await testDb.db.query<{ group: string; n: number; settlements: number }>(
      `SELECT g.key AS group, g.settlements, (SELECT count(*)::int FROM deliveries d WHERE d.topic = 'group:' || g.key || ':1') AS n
       FROM job_groups g ORDER BY g.key`,
    );
    expect(perGroup).toHaveLength(GROUPS);
    expect(perGroup.every((row) => row.n === 1 && row.settlements === 1)).toBe(true);
    expect(await count("SELECT 1 FROM deliveries WHERE event_type = 'group.settled'")).toBe(GROUPS);
  });

  test("a group retention finds without batches is kept when a batch joins it meanwhile", async () => {
    const longAgo = new Date(T0 - 40 * 24 * 3_600_000);
    await testDb.db.query("INSERT INTO job_groups (key, created_at, settled_at, settlements) VALUES ('eval-old', $1, $1, 1)", [longAgo]);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let joined!: () => void;
    const groupLocked = new Promise<void>((resolve) => (joined = resolve));
    const joining = pool(1).transaction(async (tx) => {
      await joinGroup(tx, "eval-old", { newMember: true });
      joined();
      await released;
      const [job] = await tx.query<{ id: string }>("INSERT INTO jobs (provider, batch_id) VALUES ('simulated', 'sim_1h_completed_7') RETURNING id");
      await tx.query(
        "INSERT INTO subscriptions (job_id, destination_key, webhook_url, group_key) VALUES ($1, 'url:https://receiver.example/g', 'https://receiver.example/g', 'eval-old')",
        [job!.id],
      );
    });
    await groupLocked;
    // Retention picks the group (no committed batch in it) and waits for the joining transaction's row lock.
    const pruning = deleteExpiredHistory(pool(2), { olderThanDays: 30 });
    await expect.poll(() => count("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"), { timeout: 5_000 }).toBe(1);
    release();
    await joining;
    expect((await pruning).groups).toBe(0);
    expect(await count("SELECT 1 FROM job_groups WHERE key = 'eval-old'")).toBe(1);
  });
});
