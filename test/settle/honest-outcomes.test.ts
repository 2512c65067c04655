import { afterEach, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import { setClock } from "@/lib/clock";
import { getProvider } from "@/lib/providers";
import { settleJob } from "@/lib/settle/settlement";
import { recordingSender } from "../helpers/durable";
import { call, useApiHarness } from "../helpers/api";

/**
 * A batch the provider calls completed reaches its receivers with what its requests came to:
 * `results` on the delivered event and on batch/settled, so "every request failed" never looks
 * like a plain success.
 */

const harness = useApiHarness();
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);
afterEach(() => setClock());

test.each([
  {
    batchId: "sim_1m_completed_10_f100",
    results: {
      verdict: "all_failed",
      reason: "every_request_failed",
      commonError: { code: "simulated_failure", message: "the simulated request failed", count: 10 },
      errorsRead: 10,
    },
  },
  {
    batchId: "sim_1m_completed_10_f30",
    results: {
      verdict: "partly_failed",
      reason: "some_requests_failed",
      commonError: { code: "simulated_failure", message: "the simulated request failed", count: 3 },
      errorsRead: 3,
    },
  },
  { batchId: "sim_1m_completed_10", results: { verdict: "all_succeeded", reason: "every_request_succeeded", commonError: null, errorsRead: 0 } },
])("$batchId is delivered as batch.completed with results.verdict $results.verdict", async ({ batchId, results }) => {
  setClock(() => T0);
  const tracked = await call(batches.POST, "POST", "/api/batches", {
    body: { provider: "simulated", batchId, webhookUrl: "http://127.0.0.1:9/hooks" },
  });
  setClock(() => T0 + 10 * 60_000);
  const snapshot = await getProvider("simulated").retrieve(batchId, { kind: "batch", trackedAt: T0 });
  const sender = recordingSender();
  await settleJob(harness.db, tracked.json.job.id, { by: "poll", snapshot }, sender.send);

  const [delivery] = await harness.db.query<{ event_type: string; payload: Record<string, unknown> }>(
    "SELECT event_type, payload FROM deliveries WHERE job_id = $1",
    [tracked.json.job.id],
  );
  expect(delivery!.event_type).toBe("batch.completed");
  expect(delivery!.payload).toMatchObject({ type: "batch.completed", status: "completed", results });
  expect(sender.named("batch/settled")[0]!.data).toMatchObject({ outcome: "completed", results });
});

test("a batch that did not complete carries no results: its type says how it ended", async () => {
  setClock(() => T0);
  const tracked = await call(batches.POST, "POST", "/api/batches", {
    body: { provider: "simulated", batchId: "sim_1m_failed_10", webhookUrl: "http://127.0.0.1:9/hooks" },
  });
  setClock(() => T0 + 10 * 60_000);
  const snapshot = await getProvider("simulated").retrieve("sim_1m_failed_10", { kind: "batch", trackedAt: T0 });
  await settleJob(harness.db, tracked.json.job.id, { by: "poll", snapshot }, recordingSender().send);
  const [delivery] = await harness.db.query<{ payload: Record<string, unknown> }>("SELECT payload FROM deliveries WHERE job_id = $1", [
    tracked.json.job.id,
  ]);
  expect(delivery!.payload.type).toBe("batch.failed");
  expect(delivery!.payload).not.toHaveProperty("results");
});
