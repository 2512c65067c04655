import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { setDb } from "@/lib/db";
import { trackBatch } from "@/lib/tracking";
import { createTestDatabase, resetDatabase, type TestDatabase } from "../helpers/db";
import { InngestHarness } from "../helpers/inngest-harness";
import { startReceiver } from "../helpers/receiver";

const SECRET = process.env.BATCH_WEBHOOK_SECRET!;

let testDb: TestDatabase;
let harness: InngestHarness;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver({ secret: SECRET, now: () => harness.now() });
  testDb = await createTestDatabase("pglite");
  setDb(testDb.db);
});
afterAll(async () => {
  await receiver.close();
  setDb(undefined);
  await testDb.drop();
});
beforeEach(async () => {
  await resetDatabase(testDb.db);
  harness = await new InngestHarness().start();
  receiver.received.length = 0;
});
afterEach(async () => {
  await harness.stop();
});

describe("a tracked simulated batch", () => {
  test("is polled to completion and delivered once, signed per Standard Webhooks", async () => {
    const tracked = await trackBatch(testDb.db, {
      provider: "simulated",
      batchId: "sim_10m_completed_100",
      webhookUrl: receiver.url,
      metadata: { team: "search" },
    });
    expect(tracked.created).toBe(true);

    await harness.drain();

    const [job] = await testDb.db.query<{ status: string; outcome: string; settled_by: string; poll_count: number }>(
      "SELECT status, outcome, settled_by, poll_count FROM jobs",
    );
    expect(job).toMatchObject({ status: "completed", outcome: "completed", settled_by: "poll" });
    expect(receiver.received).toHaveLength(1);
    const delivered = receiver.received[0]!;
    expect(delivered.verified).toMatchObject({
      type: "batch.completed",
      id: "sim_10m_completed_100",
      provider: "simulated",
      kind: "batch",
      status: "completed",
      reason: null,
      requestCounts: { total: 100, completed: expect.any(Number), failed: expect.any(Number) },
      metadata: { team: "search" },
    });
    expect(harness.named("batch/settled")).toHaveLength(1);
    const [delivery] = await testDb.db.query<{ id: string; status: string }>("SELECT id, status FROM deliveries");
    expect(delivery).toMatchObject({ status: "delivered" });
    expect(delivered.headers["webhook-id"]).toBe(delivery!.id);
  });
});
