import type { InngestFunction } from "inngest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startReceiver } from "../../helpers/receiver";
import type { EngineMode } from "./engine";
import { APP_ID, DELIVERY_RETRIES, registeredFunctions, startStack, WEBHOOK_SECRET, type Stack } from "./stack";
import { sleep, waitFor } from "./wait";

/** After the expected delivery, how long the receiver must stay quiet for "exactly one" to hold. */
const QUIET_MS = 10_000;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Measurements printed after the suite (and recorded in docs/testing.md). */
export const measured: Record<string, string> = {};

interface DeclaredConfig {
  id: string;
  triggers: ({ event: string; expression?: string } | { cron: string })[];
  steps: Record<string, { retries?: { attempts: number } }>;
  concurrency?: { key?: string; limit: number }[];
  singleton?: { key?: string; mode: string };
}

/** What the code declares, as the SDK sends it at registration, with the settings the app runs with. */
async function declaredFunctions(): Promise<DeclaredConfig[]> {
  process.env.BATCHWATCH_DELIVERY_RETRIES = String(DELIVERY_RETRIES);
  const { functions } = await import("@/inngest/functions");
  return (functions as unknown as InngestFunction.Any[]).flatMap((fn) =>
    (fn as unknown as { getConfig(options: { baseUrl: URL; appPrefix: string }): DeclaredConfig[] }).getConfig({
      baseUrl: new URL("http://127.0.0.1/api/inngest"),
      appPrefix: APP_ID,
    }),
  );
}

/** A batch id unique to this run of the suite (jobs are unique by provider and id). */
export function simulatedBatch(duration: string, outcome = "completed"): string {
  return `sim_${duration}_${outcome}_${Math.floor(Math.random() * 900_000) + 100}`;
}

export async function jobOf(stack: Stack, batchId: string) {
  const [job] = await stack.db.query<{ id: string; poll_count: number; tracked_at: Date; settled_at: Date | null; outcome: string | null }>(
    "SELECT id, poll_count, tracked_at, settled_at, outcome FROM jobs WHERE batch_id = $1",
    [batchId],
  );
  return job;
}

export async function deliveriesOf(stack: Stack, jobId: string) {
  return stack.db.query<{ id: string; status: string; attempt_count: number }>(
    "SELECT id, status, attempt_count FROM deliveries WHERE job_id = $1",
    [jobId],
  );
}

/** Requests the receiver accepted (2xx) and verified with the `standardwebhooks` library. */
export function verifiedOf(receiver: Receiver, type: string) {
  return receiver.received.filter((request) => request.verified && request.verified.type === type);
}

/** Waits for `count` requests to `receiver`, then for QUIET_MS more in which no other arrives. */
export async function receivedExactly(receiver: Receiver, count: number, timeoutMs: number): Promise<void> {
  await waitFor(`${count} request(s) to ${receiver.url}`, timeoutMs, () => receiver.received.length >= count);
  await sleep(QUIET_MS);
  expect(receiver.received.length).toBe(count);
}

/**
 * The scenarios that share one engine and one app, run concurrently: what the engine registered,
 * and each path a batch takes to its one webhook.
 */
export function engineSuite(mode: EngineMode): void {
  let stack: Stack;
  const receivers: Receiver[] = [];
  const receiver = async (options: Omit<Parameters<typeof startReceiver>[0], "secret"> = {}) => {
    const started = await startReceiver({ secret: WEBHOOK_SECRET, ...options });
    receivers.push(started);
    return started;
  };

  beforeAll(async () => {
    stack = await startStack(mode);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((each) => each.close()));
    await stack?.stop();
    const lines = Object.entries(measured).map(([what, value]) => `  ${what}: ${value}`);
    if (lines.length) console.log(`engine suite (${mode}) measured:\n${lines.join("\n")}`);
  });

  describe.concurrent(`on ${mode === "dev" ? "inngest dev" : "a self-hosted inngest start"}`, () => {
    test("9. the engine registered every function as the code declares it: ids, triggers, crons, concurrency, singleton, retries", async () => {
      const declared = await declaredFunctions();
      const registered = await registeredFunctions(stack.engine);
      expect(registered.map((fn) => fn.slug).sort()).toEqual(declared.map((fn) => fn.id).sort());
      for (const config of declared) {
        const fn = registered.find((each) => each.slug === config.id)!;
        expect(
          fn.triggers?.map((trigger) => (trigger.type === "CRON" ? { cron: trigger.value } : { event: trigger.value, expression: trigger.condition ?? undefined })),
          config.id,
        ).toEqual(config.triggers.map((trigger) => ("cron" in trigger ? trigger : { event: trigger.event, expression: trigger.expression })));
        expect(fn.configuration.retries.value, `${config.id} retries`).toBe(Object.values(config.steps)[0]?.retries?.attempts);
        expect(
          // A function without a limit is listed with one entry of limit -1 (none).
          fn.configuration.concurrency
            .filter((limit) => limit.limit.value > 0)
            .map((limit) => ({ key: limit.key ?? undefined, limit: limit.limit.value })),
          `${config.id} concurrency`,
        ).toEqual((config.concurrency ?? []).map((limit) => ({ key: limit.key, limit: limit.limit })));
        expect(
          fn.configuration.singleton && { key: fn.configuration.singleton.key ?? undefined, mode: fn.configuration.singleton.mode.toLowerCase() },
          `${config.id} singleton`,
        ).toEqual(config.singleton ? { key: config.singleton.key, mode: config.singleton.mode } : null);
      }
    });

    test("1. tracked through POST /api/batches: the watcher sleeps and polls, and the subscriber gets exactly one verified batch.completed", async () => {
      const hooks = await receiver();
      const batchId = simulatedBatch("60s");
      const response = await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url });
      expect(response.status, await response.clone().text()).toBe(202);

      await receivedExactly(hooks, 1, 4 * 60_000);
      const [completed] = verifiedOf(hooks, "batch.completed");
      expect(completed?.verified).toMatchObject({ type: "batch.completed", id: batchId, provider: "simulated", status: "completed" });
      const job = (await jobOf(stack, batchId))!;
      expect(job.outcome).toBe("completed");
      // It really slept: the batch took a minute, and it was asked more than once.
      expect(job.poll_count).toBeGreaterThanOrEqual(2);
      expect(job.settled_at!.getTime() - job.tracked_at.getTime()).toBeGreaterThanOrEqual(55_000);
      const deliveries = await deliveriesOf(stack, job.id);
      expect(deliveries).toEqual([expect.objectContaining({ status: "delivered", attempt_count: 1 })]);
      expect(completed!.headers["webhook-id"]).toBe(deliveries[0]!.id);
    });
  });
}
