import { describe, expect, test } from "vitest";
import { trackBatch } from "@/lib/track/tracking";
import { useFlow } from "../helpers/flow";

const SECRET = process.env.BATCH_WEBHOOK_SECRET!;

const flow = useFlow({ receiver: { secret: SECRET } });

describe("a tracked simulated batch", () => {
  test("is polled to completion and delivered once, signed per Standard Webhooks", async () => {
    const tracked = await trackBatch(flow.db, {
      provider: "simulated",
      batchId: "sim_10m_completed_100",
      webhookUrl: flow.receiver.url,
      metadata: { team: "search" },
    }, flow.send);
    expect(tracked.created).toBe(true);

    await flow.harness.drain();

    const [job] = await flow.db.query<{ status: string; outcome: string; settled_by: string; poll_count: number }>(
      "SELECT status, outcome, settled_by, poll_count FROM jobs",
    );
    expect(job).toMatchObject({ status: "completed", outcome: "completed", settled_by: "poll" });
    expect(flow.receiver.received).toHaveLength(1);
    const delivered = flow.receiver.received[0]!;
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
    expect(flow.harness.named("batch/settled")).toHaveLength(1);
    const [delivery] = await flow.db.query<{ id: string; status: string }>("SELECT id, status FROM deliveries");
    expect(delivery).toMatchObject({ status: "delivered" });
    expect(delivered.headers["webhook-id"]).toBe(delivery!.id);
  });
});
