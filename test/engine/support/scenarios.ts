import { spawn } from "node:child_process";
import path from "node:path";
import type { InngestFunction } from "inngest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { signedOpenAIWebhook } from "../../helpers/fake-openai";
import { startReceiver } from "../../helpers/receiver";
import type { EngineMode } from "./engine";
import { APP_ID, DELIVERY_RETRIES, OPENAI_WEBHOOK_SECRET, POLLS_PER_RUN, registeredFunctions, startStack, WEBHOOK_SECRET, type Stack } from "./stack";
import { sleep, waitFor } from "./wait";

/** After the expected delivery, how long the receiver must stay quiet for "exactly one" to hold. */
const QUIET_MS = 10_000;
const ROOT = path.resolve(__dirname, "../../..");

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Measurements printed after the suite (and recorded in docs/testing.md). */
export const measured: Record<string, string> = {};

function printMeasured(mode: EngineMode): void {
  const lines = Object.entries(measured).map(([what, value]) => `  ${what}: ${value}`);
  // Straight to the terminal: the quiet-when-green console (test/setup/console.ts) would hold it.
  if (lines.length) process.stdout.write(`engine suite (${mode}) measured:\n${lines.join("\n")}\n`);
}

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

export async function attemptsOf(stack: Stack, deliveryId: string) {
  return stack.db.query<{ run_id: string; attempt: number; status_code: number | null; attempted_at: Date }>(
    "SELECT run_id, attempt, status_code, attempted_at FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempted_at",
    [deliveryId],
  );
}

/**
 * The engine's runs of one of the app's functions whose trigger event's data matches, from its runs
 * API as its dashboard lists them. (Its CEL `query` filter on event data found nothing in v1.43,
 * so each run's trigger is read instead.)
 */
export async function runsOf(stack: Stack, functionId: string, matches: (data: Record<string, unknown>) => boolean) {
  const fn = (await registeredFunctions(stack.engine)).find((each) => each.slug === `${APP_ID}-${functionId}`);
  if (!fn) throw new Error(`the engine has no function ${functionId}`);
  const { runs } = await stack.engine.gql<{ runs: { edges: { node: { id: string; status: string } }[] } }>(
    `query Runs($from: Time!, $functionIDs: [UUID!]) {
      runs(first: 200, orderBy: [{ field: QUEUED_AT, direction: ASC }], filter: { from: $from, functionIDs: $functionIDs }) {
        edges { node { id status } }
      }
    }`,
    { from: new Date(Date.now() - 60 * 60_000).toISOString(), functionIDs: [fn.id] },
  );
  const matching = [];
  for (const { node } of runs.edges) {
    // A run just queued may be listed before its trigger can be read ("no rows"): not ours yet.
    const trigger = await stack.engine
      .gql<{ runTrigger: { payloads: string[] } }>("query Trigger($runID: String!) { runTrigger(runID: $runID) { payloads } }", { runID: node.id })
      .catch((error: Error) => {
        if (/no rows/.test(error.message)) return null;
        throw error;
      });
    if (!trigger) continue;
    const { runTrigger } = trigger;
    const events = runTrigger.payloads.map((payload) => JSON.parse(payload.trim().startsWith("{") ? payload : Buffer.from(payload, "base64").toString()));
    if (events.some((event: { data?: Record<string, unknown> }) => matches(event.data ?? {}))) matching.push(node);
  }
  return matching;
}

/** Matches the watcher runs of one job (their trigger event names it). */
const watcherOf = (jobId: string) => (data: Record<string, unknown>) => data.jobId === jobId;

export async function runStatus(stack: Stack, runId: string): Promise<string | undefined> {
  const { run } = await stack.engine.gql<{ run: { status: string } | null }>("query Run($runID: String!) { run(runID: $runID) { status } }", { runID: runId });
  return run?.status;
}

/**
 * Sends an event the way a user's own app does: the `inngest` package in another Node process,
 * with the engine's URL (and, self-hosted, its event key).
 */
export async function sendFromAnotherProcess(stack: Stack, event: { name: string; data: Record<string, unknown> }): Promise<void> {
  const script = `
    import { Inngest } from "inngest";
    const client = new Inngest({ id: "users-app" });
    await client.send(JSON.parse(process.argv[1]));
  `;
  const env: Record<string, string> =
    stack.mode === "dev"
      ? { INNGEST_DEV: "1", INNGEST_BASE_URL: stack.engine.url }
      : { INNGEST_EVENT_KEY: stack.engine.eventKey!, INNGEST_BASE_URL: stack.engine.url };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(event)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, NODE_ENV: "production", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`the sending process exited with ${code}:\n${output}`))));
  });
}

/**
 * Starts the file's stack before its scenarios (handing it to `use`) and stops it after them; the
 * receivers it returns close with it.
 */
function useStack(mode: EngineMode, use: (stack: Stack) => void) {
  let stack: Stack | undefined;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    stack = await startStack(mode);
    use(stack);
  });
  afterAll(async () => {
    await Promise.all(receivers.map((each) => each.close()));
    await stack?.stop();
    printMeasured(mode);
  });
  return async (options: Omit<Parameters<typeof startReceiver>[0], "secret"> = {}) => {
    const started = await startReceiver({ secret: WEBHOOK_SECRET, ...options });
    receivers.push(started);
    return started;
  };
}

/**
 * The scenarios that share one engine and one app, run concurrently: what the engine registered,
 * and each path a batch takes to its one webhook.
 */
export function engineSuite(mode: EngineMode): void {
  let stack: Stack;
  const receiver = useStack(mode, (started) => (stack = started));

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

    test(
      mode === "dev"
        ? "10. INNGEST_DEV is announced loudly at start-up, and /api/inngest then runs a call nobody signed"
        : "10. request signing is on: /api/inngest refuses a call the engine did not sign, and no dev-mode warning is printed",
      async () => {
        // A call as the engine makes it, for the harmless retention cron, without X-Inngest-Signature.
        const unsigned = await fetch(`${stack.app.serveUrl}?fnId=${APP_ID}-prune-retention&stepId=step`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            event: { name: "inngest/scheduled.timer", data: { cron: "TZ=UTC 30 3 * * *" } },
            events: [{ name: "inngest/scheduled.timer", data: { cron: "TZ=UTC 30 3 * * *" } }],
            steps: {},
            ctx: { run_id: "01JENGINESUITEUNSIGNED0000", attempt: 0, stack: { stack: [], current: 0 } },
            version: 1,
          }),
        });
        if (mode === "dev") {
          expect(stack.app.log()).toContain("INNGEST_DEV is on");
          expect(unsigned.status, await unsigned.clone().text()).toBeLessThan(300);
        } else {
          expect(stack.app.log()).not.toContain("INNGEST_DEV is on");
          expect(unsigned.status, await unsigned.clone().text()).toBe(401);
        }
      },
    );

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
      // It really slept and polled: the batch took a minute, and it was settled by a later poll, in a
      // later run (one poll per run here), than the poll that found it running.
      expect(job.poll_count).toBeGreaterThanOrEqual(1);
      expect(job.settled_at!.getTime() - job.tracked_at.getTime()).toBeGreaterThanOrEqual(55_000);
      const watchers = await runsOf(stack, "watch-batch", watcherOf(job.id));
      expect(watchers.length).toBeGreaterThanOrEqual(2);
      expect(watchers.every((run) => run.status === "COMPLETED")).toBe(true);
      const deliveries = await deliveriesOf(stack, job.id);
      expect(deliveries).toEqual([expect.objectContaining({ status: "delivered", attempt_count: 1 })]);
      expect(completed!.headers["webhook-id"]).toBe(deliveries[0]!.id);
    });

    test("2. tracked by inngest.send(\"batch/tracked\") from a separate process, as a user's app would: watched and delivered the same way", async () => {
      const hooks = await receiver();
      const batchId = simulatedBatch("20s");
      await sendFromAnotherProcess(stack, { name: "batch/tracked", data: { provider: "simulated", batchId, webhookUrl: hooks.url } });

      await receivedExactly(hooks, 1, 4 * 60_000);
      expect(verifiedOf(hooks, "batch.completed").map((each) => each.verified!.id)).toEqual([batchId]);
      const job = (await jobOf(stack, batchId))!;
      expect(await deliveriesOf(stack, job.id)).toEqual([expect.objectContaining({ status: "delivered", attempt_count: 1 })]);
    });

    test("4. a receiver that answers 500, 500, then 200: one success, the same webhook-id on every attempt, three attempts logged", async () => {
      const hooks = await receiver({ respond: (_request, index) => ({ status: index < 2 ? 500 : 200 }) });
      const batchId = simulatedBatch("5s");
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url })).status).toBe(202);

      await receivedExactly(hooks, 3, 5 * 60_000);
      const ids = new Set(hooks.received.map((request) => request.headers["webhook-id"]));
      expect(ids.size).toBe(1);
      expect(hooks.received.every((request) => request.verified?.type === "batch.completed")).toBe(true);
      const job = (await jobOf(stack, batchId))!;
      const [delivery] = await deliveriesOf(stack, job.id);
      expect(delivery).toMatchObject({ id: [...ids][0], status: "delivered", attempt_count: 3 });
      const attempts = await attemptsOf(stack, delivery!.id);
      expect(attempts.map((attempt) => attempt.status_code)).toEqual([500, 500, 200]);
      // One run, retried by the engine: the attempts share its run id, and its attempt counts per step.
      expect(new Set(attempts.map((attempt) => attempt.run_id)).size).toBe(1);
      expect(attempts.map((attempt) => attempt.attempt)).toEqual([1, 2, 3]);
      // The engine waited as the app's RetryAfterError asked (30 s, then 60 s), not its own 15 s / 30 s.
      const gaps = attempts.slice(1).map((attempt, index) => attempt.attempted_at.getTime() - attempts[index]!.attempted_at.getTime());
      expect(gaps[0]).toBeGreaterThanOrEqual(29_000);
      expect(gaps[1]).toBeGreaterThanOrEqual(59_000);
    });

    test("3. a native OpenAI webhook cuts the long sleep short: delivered within seconds, and the sleeping watcher later ends without a second delivery", async () => {
      const hooks = await receiver();
      const batchId = `batch_engine_${Math.random().toString(36).slice(2, 10)}`;
      const createdAt = Math.floor(Date.now() / 1000);
      // The watcher sleeps until the batch's expiry (+30 s) at most: two minutes out, so the suite sees it wake.
      stack.openai.setBatch(batchId, { status: "in_progress", createdAt, expiresAt: createdAt + 100 });
      expect((await stack.api("POST", "/api/batches", { provider: "openai", batchId, webhookUrl: hooks.url })).status).toBe(202);
      const job = await waitFor("the watcher's first poll", 2 * 60_000, async () => {
        const row = await jobOf(stack, batchId);
        return row && row.poll_count >= 1 ? row : null;
      });
      await waitFor("the engine to list the watcher as running", 60_000, async () =>
        (await runsOf(stack, "watch-batch", watcherOf(job.id))).some((run) => run.status === "RUNNING"), 1_000);

      stack.openai.setBatch(batchId, { status: "completed", createdAt, expiresAt: createdAt + 100, requestCounts: { total: 10, completed: 10, failed: 0 } });
      const signalAt = Date.now();
      const signal = signedOpenAIWebhook({
        secret: OPENAI_WEBHOOK_SECRET,
        webhookId: `wh_${batchId}`,
        type: "batch.completed",
        objectId: batchId,
        timestampSeconds: Math.floor(signalAt / 1000),
        url: `${stack.app.url}/api/webhooks/openai`,
      });
      expect((await fetch(signal)).status).toBeLessThan(300);
      await waitFor("the delivery after the signal", 60_000, () => hooks.received.length >= 1, 50);
      const latencyMs = Date.now() - signalAt;
      measured[`signal → delivery latency (${mode})`] = `${(latencyMs / 1000).toFixed(2)} s`;
      expect(latencyMs).toBeLessThan(30_000);
      expect(verifiedOf(hooks, "batch.completed").map((each) => each.verified!.id)).toEqual([batchId]);

      // The watcher was not cancelled: it wakes after the expiry, finds the job settled and ends.
      await waitFor("the sleeping watcher to end", 4 * 60_000, async () =>
        (await runsOf(stack, "watch-batch", watcherOf(job.id))).every((run) => run.status === "COMPLETED"), 2_000);
      await sleep(QUIET_MS);
      expect(hooks.received).toHaveLength(1);
      expect((await jobOf(stack, batchId))?.outcome).toBe("completed");
    });

    test("8. a long watch with BATCHWATCH_POLLS_PER_RUN small continues in fresh runs and settles once", async () => {
      const hooks = await receiver();
      const batchId = simulatedBatch("150s");
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url })).status).toBe(202);

      await receivedExactly(hooks, 1, 5 * 60_000);
      const job = (await jobOf(stack, batchId))!;
      // Every poll but the settling one is counted; each run made POLLS_PER_RUN of them, then continued.
      const watchers = await runsOf(stack, "watch-batch", watcherOf(job.id));
      expect(job.poll_count).toBeGreaterThanOrEqual(2);
      expect(watchers.length).toBeGreaterThanOrEqual(Math.ceil((job.poll_count + 1) / POLLS_PER_RUN));
      expect(watchers.every((run) => run.status === "COMPLETED")).toBe(true);
      expect(await deliveriesOf(stack, job.id)).toEqual([expect.objectContaining({ status: "delivered" })]);
    });

    test("6. a resend while the original delivery run is still retrying: delivered, stays delivered, one webhook-id", async () => {
      const hooks = await receiver({ respond: (_request, index) => ({ status: index === 0 ? 500 : 200 }) });
      const batchId = simulatedBatch("5s");
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url })).status).toBe(202);
      await waitFor("the first, failing attempt", 3 * 60_000, () => hooks.received.length >= 1);
      const job = (await jobOf(stack, batchId))!;
      const [delivery] = await deliveriesOf(stack, job.id);

      const resend = await stack.api("POST", `/api/deliveries/${delivery!.id}/resend`);
      expect(resend.status, await resend.clone().text()).toBe(202);
      await waitFor("the resend to deliver", 60_000, async () => (await deliveriesOf(stack, job.id))[0]?.status === "delivered");
      // Past the moment the original run's retry was due (30 s after its failed attempt), and then some.
      await sleep(45_000);
      const [after] = await deliveriesOf(stack, job.id);
      expect(after?.status).toBe("delivered");
      expect(new Set(hooks.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([delivery!.id]));
      expect(hooks.received.filter((_request, index) => index > 0)).toHaveLength(1);
    });

    test("5. a delivery whose run failed for good is re-run through the engine's own API once the receiver is back: delivered, same webhook-id, settled once", async () => {
      let up = false;
      const hooks = await receiver({ respond: () => ({ status: up ? 200 : 503 }) });
      const batchId = simulatedBatch("5s");
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url })).status).toBe(202);
      const job = await waitFor("the job to settle", 3 * 60_000, async () => {
        const row = await jobOf(stack, batchId);
        return row?.settled_at ? row : null;
      });
      const failed = await waitFor("the delivery to fail for good", 5 * 60_000, async () => {
        const [row] = await deliveriesOf(stack, job.id);
        return row?.status === "failed" ? row : null;
      }, 1_000);
      expect(failed.attempt_count).toBe(DELIVERY_RETRIES + 1);
      // The run that failed, by the id the attempt log recorded, as the engine reports it.
      const runIds = new Set((await attemptsOf(stack, failed.id)).map((attempt) => attempt.run_id));
      expect(runIds.size).toBe(1);
      const [runId] = [...runIds];
      await waitFor("the engine to report the run failed", 60_000, async () => (await runStatus(stack, runId!)) === "FAILED");

      up = true;
      // The mutation the engine's own dashboard sends for "Rerun".
      const { rerun } = await stack.engine.gql<{ rerun: string }>(
        "mutation Rerun($runID: ULID!, $debugRunID: ULID = null, $debugSessionID: ULID = null) { rerun(runID: $runID, debugRunID: $debugRunID, debugSessionID: $debugSessionID) }",
        { runID: runId },
      );
      expect(rerun).not.toBe(runId);
      await receivedExactly(hooks, DELIVERY_RETRIES + 2, 2 * 60_000);
      expect(new Set(hooks.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([failed.id]));
      expect(await deliveriesOf(stack, job.id)).toEqual([expect.objectContaining({ id: failed.id, status: "delivered" })]);
      expect((await jobOf(stack, batchId))?.settled_at).toEqual(job.settled_at);
    });

    test("11. a batch queued far longer than normal for its provider: one batch.stalled while it waits, one batch.resumed when it starts, then its outcome, to the subscriber that opted in", async () => {
      const alerts = await receiver();
      const outcomesOnly = await receiver();
      // Validating (queued) for half of its 4 minutes; the simulated provider's normal queue is 30 s.
      const batchId = `${simulatedBatch("4m")}_q50`;
      const events = ["batch.stalled", "batch.resumed", "batch.completed"];
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: alerts.url, events })).status).toBe(202);
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: outcomesOnly.url })).status).toBe(202);

      await receivedExactly(alerts, 3, 7 * 60_000);
      const types = alerts.received.map((request) => request.verified?.type);
      expect(types).toEqual(["batch.stalled", "batch.resumed", "batch.completed"]);
      const [stalled, resumed] = alerts.received.map((request) => request.verified as Record<string, any>);
      expect(stalled).toMatchObject({ id: batchId, status: "validating", stall: { kind: "stuck_in_phase", number: 1 } });
      expect(resumed).toMatchObject({ id: batchId, status: "in_progress", stall: { kind: "stuck_in_phase", number: 1 } });
      expect(new Set(alerts.received.map((request) => request.headers["webhook-id"])).size).toBe(3);
      expect(outcomesOnly.received.map((request) => request.verified?.type)).toEqual(["batch.completed"]);
    });

    test("12. a group of three batches settling at different times: one group.settled, after the last, with each batch's outcome and the totals", async () => {
      const hooks = await receiver();
      const group = `engine-${Math.floor(Math.random() * 1e9)}`;
      const batches = [simulatedBatch("15s"), simulatedBatch("45s", "failed"), simulatedBatch("30s")];
      for (const batchId of batches) {
        const response = await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url, group });
        expect(response.status, await response.clone().text()).toBe(202);
      }

      await receivedExactly(hooks, 4, 5 * 60_000);
      expect(verifiedOf(hooks, "group.settled")).toHaveLength(1);
      const [settled] = verifiedOf(hooks, "group.settled").map((request) => request.verified as Record<string, any>);
      expect(settled).toMatchObject({ group, settlement: 1, totals: { batches: 3, outcomes: { completed: 2, failed: 1, expired: 0, cancelled: 0 } } });
      expect(settled!.batches.map((batch: { id: string }) => batch.id).sort()).toEqual([...batches].sort());
      const ended = await Promise.all(batches.map(async (batchId) => (await jobOf(stack, batchId))!.settled_at!.getTime()));
      expect(Date.parse(settled!.settledAt)).toBeGreaterThanOrEqual(Math.max(...ended));
    });
  });
}

/**
 * Scenario 7 on a stack of its own (it kills the app): SIGKILL while a watcher sleeps and while a
 * delivery waits for its retry, then `next start` again; everything completes, once.
 */
export function crashSuite(mode: EngineMode): void {
  let stack: Stack;
  const receiver = useStack(mode, (started) => (stack = started));

  test(`7. the app is killed (SIGKILL) while a watcher sleeps and while a delivery retries, then started again: all complete, nothing lost or delivered twice (${mode})`, async () => {
    const sleeping = await receiver();
    const retrying = await receiver({ respond: (_request, index) => ({ status: index === 0 ? 500 : 200 }) });
    const sleeperBatch = simulatedBatch("100s");
    const retryBatch = simulatedBatch("5s");
    for (const [batchId, hooks] of [[sleeperBatch, sleeping], [retryBatch, retrying]] as const) {
      expect((await stack.api("POST", "/api/batches", { provider: "simulated", batchId, webhookUrl: hooks.url })).status).toBe(202);
    }
    // The delivery has failed once and waits 30 s for its retry; the other batch's watcher sleeps.
    await waitFor("the first, failing delivery attempt", 3 * 60_000, () => retrying.received.length >= 1);
    const sleeper = (await jobOf(stack, sleeperBatch))!;
    expect(sleeper.poll_count).toBeGreaterThanOrEqual(1);
    expect(sleeper.settled_at).toBeNull();

    await stack.app.crash();
    await sleep(15_000);
    await stack.app.start();

    await receivedExactly(retrying, 2, 3 * 60_000);
    await receivedExactly(sleeping, 1, 4 * 60_000);
    for (const [batchId, hooks] of [[sleeperBatch, sleeping], [retryBatch, retrying]] as const) {
      const job = (await jobOf(stack, batchId))!;
      const deliveries = await deliveriesOf(stack, job.id);
      expect(deliveries).toEqual([expect.objectContaining({ status: "delivered" })]);
      expect(new Set(hooks.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set([deliveries[0]!.id]));
      expect(verifiedOf(hooks, "batch.completed").map((each) => each.verified!.id)).toEqual(hooks.received.map(() => batchId));
    }
  });

  // Here, not with the concurrent scenarios: scripted provider failures hit whichever poll comes next.
  test(`13. a provider outage: the poll step is retried on the engine's backoff (15 s, then 30 s, plus jitter) inside the watch lease; one watcher, one delivery (${mode})`, async () => {
    const hooks = await receiver();
    const batchId = `batch_outage_${Math.random().toString(36).slice(2, 10)}`;
    const createdAt = Math.floor(Date.now() / 1000);
    stack.openai.setBatch(batchId, { status: "completed", createdAt, requestCounts: { total: 10, completed: 10, failed: 0 } });
    stack.openai.failNext({ status: 500 }, { status: 500 });
    const seenAt: number[] = [];
    const path = `/v1/batches/${batchId}`;
    const watching = setInterval(() => {
      const count = stack.openai.requests.filter((request) => request.includes(path)).length;
      while (seenAt.length < count) seenAt.push(Date.now());
    }, 100);
    try {
      expect((await stack.api("POST", "/api/batches", { provider: "openai", batchId, webhookUrl: hooks.url })).status).toBe(202);
      await waitFor("the first, failing poll", 2 * 60_000, () => seenAt.length >= 1, 100);
      const job = (await jobOf(stack, batchId))!;
      const [lease] = await stack.db.query<{ watch_lease_until: Date }>("SELECT watch_lease_until FROM jobs WHERE id = $1", [job.id]);
      await receivedExactly(hooks, 1, 4 * 60_000);

      expect(seenAt).toHaveLength(3);
      measured[`poll step retry waits (${mode})`] = seenAt.slice(1).map((at, index) => `${((at - seenAt[index]!) / 1000).toFixed(1)} s`).join(", ");
      // The engine's table (pkg/backoff, v1.43): 15 s after the first failure, 30 s after the second.
      expect(seenAt[1]! - seenAt[0]!).toBeGreaterThanOrEqual(14_500);
      expect(seenAt[2]! - seenAt[1]!).toBeGreaterThanOrEqual(29_500);
      // The lease held during the outage outlasts all six retries of a poll on that table
      // (15 s + 30 s + 1 + 2 + 5 + 10 min), so the reconciler would not start a second watcher.
      expect(lease!.watch_lease_until.getTime() - seenAt[0]!).toBeGreaterThan((15 + 30 + 60 + 120 + 300 + 600) * 1000);
      const watchers = await runsOf(stack, "watch-batch", watcherOf(job.id));
      expect(watchers.map((run) => run.status)).toEqual(["COMPLETED"]);
      expect(await deliveriesOf(stack, job.id)).toEqual([expect.objectContaining({ status: "delivered" })]);
    } finally {
      clearInterval(watching);
    }
  });
}
