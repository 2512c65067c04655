import { NonRetriableError } from "inngest";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { inngest } from "@/inngest/client";
import { now } from "@/lib/clock";
import { ENGINE_BACKOFF_JITTER_MS, engineRetryDelayMs } from "@/lib/engine-backoff";
import { InngestHarness } from "../helpers/inngest-harness";

/**
 * The in-process harness models the engine the functions run on: a retry re-runs only the failed
 * step with earlier steps memoised, the run id stays, `attempt` counts per step, and waits follow
 * the engine's backoff table. Probed with functions of the test's own.
 */

let harness: InngestHarness;
beforeEach(async () => {
  harness = await new InngestHarness().start();
});
afterEach(async () => {
  await harness.stop();
});

const probe = { name: "test/probe", data: {} };

/** What the probes throw (test/setup/console.ts expects the SDK to log it). */
class ProbeFailure extends Error {
  override name = "ProbeFailure";
}

/** A step body that fails its first `failures` calls, recording each call's attempt and run id. */
function flaky(failures: number, calls: { attempt: number; runId: string; at: number }[], ctx: () => { attempt: number; runId: string }) {
  return () => {
    calls.push({ ...ctx(), at: now() });
    if (calls.length <= failures) throw new ProbeFailure(`failure ${calls.length}`);
    return { value: calls.length, at: new Date(now()) };
  };
}

describe("a retry re-runs only the failed step", () => {
  test("earlier steps are memoised (their bodies run once, their outputs come back as JSON), sleeps are taken once, the run id stays", async () => {
    const first: { attempt: number; runId: string; at: number }[] = [];
    const second: { attempt: number; runId: string; at: number }[] = [];
    const seenTypes: string[] = [];
    const fn = inngest.createFunction({ id: "probe-memo", retries: 3, triggers: [{ event: "test/probe" }] }, async ({ step, attempt, runId }) => {
      const a = await step.run("first", flaky(0, first, () => ({ attempt, runId })));
      seenTypes.push(typeof a.at);
      await step.sleep("nap", "1m");
      const b = await step.run("second", flaky(2, second, () => ({ attempt, runId })));
      return a.value + b.value;
    });
    const started = harness.now();

    const executions = await harness.run(fn, probe);

    expect(first).toHaveLength(1);
    expect(second.map((call) => call.attempt)).toEqual([0, 1, 2]);
    const runIds = new Set([...first, ...second].map((call) => call.runId));
    expect(runIds.size).toBe(1);
    expect(executions.map((execution) => [execution.runId, execution.attempt, execution.stepId, execution.error?.message])).toEqual([
      [[...runIds][0], 0, "second", "failure 1"],
      [[...runIds][0], 1, "second", "failure 2"],
      [[...runIds][0], 2, undefined, undefined],
    ]);
    expect(executions.at(-1)!.result).toBe(4);
    // The execution that ran the step saw its own Date; every later one saw it as the engine stores it.
    expect(seenTypes[0]).toBe("object");
    expect(new Set(seenTypes.slice(1))).toEqual(new Set(["string"]));
    expect(harness.now() - started).toBe(60_000 + engineRetryDelayMs(0) + engineRetryDelayMs(1));
  });

  test("each step has the function's retries of its own, and attempt counts from 0 for each step", async () => {
    const a: { attempt: number; runId: string; at: number }[] = [];
    const b: { attempt: number; runId: string; at: number }[] = [];
    const fn = inngest.createFunction({ id: "probe-per-step", retries: 2, triggers: [{ event: "test/probe" }] }, async ({ step, attempt, runId }) => {
      await step.run("a", flaky(2, a, () => ({ attempt, runId })));
      await step.run("b", flaky(2, b, () => ({ attempt, runId })));
      return "done";
    });

    const executions = await harness.run(fn, probe);

    expect(a.map((call) => call.attempt)).toEqual([0, 1, 2]);
    expect(b.map((call) => call.attempt)).toEqual([0, 1, 2]);
    expect(executions).toHaveLength(5);
    expect(executions.at(-1)!.result).toBe("done");
  });
});

describe("retry delays follow the engine's table", () => {
  test.each([
    { jitterMs: 0, label: "without jitter" },
    { jitterMs: ENGINE_BACKOFF_JITTER_MS, label: "with the engine's whole jitter" },
  ])("failures at attempts 0..3 wait 15 s, 30 s, 1 min, 2 min ($label)", async ({ jitterMs }) => {
    harness.jitterMs = jitterMs;
    const calls: { attempt: number; runId: string; at: number }[] = [];
    const fn = inngest.createFunction({ id: "probe-backoff", retries: 4, triggers: [{ event: "test/probe" }] }, async ({ step, attempt, runId }) =>
      step.run("only", flaky(4, calls, () => ({ attempt, runId }))),
    );

    await harness.run(fn, probe);

    const waits = calls.slice(1).map((call, index) => call.at - calls[index]!.at);
    expect(waits).toEqual([15_000, 30_000, 60_000, 120_000].map((wait) => wait + jitterMs));
  });

  test("a step out of retries fails the run, and onFailure hears the run's own id", async () => {
    const failures: { runId: string; message: string }[] = [];
    const fn = inngest.createFunction(
      {
        id: "probe-give-up",
        retries: 1,
        triggers: [{ event: "test/probe" }],
        onFailure: async ({ event, error }) => {
          failures.push({ runId: event.data.run_id, message: error.message });
        },
      },
      async ({ step }) => step.run("doomed", () => {
        throw new ProbeFailure("always");
      }),
    );

    const executions = await harness.run(fn, probe);

    expect(executions.map((execution) => execution.attempt)).toEqual([0, 1]);
    expect(failures).toEqual([{ runId: executions[0]!.runId, message: "always" }]);
  });

  test("a NonRetriableError is not retried", async () => {
    const fn = inngest.createFunction({ id: "probe-non-retriable", retries: 5, triggers: [{ event: "test/probe" }] }, async ({ step }) =>
      step.run("refuse", () => {
        throw new NonRetriableError("no point");
      }),
    );
    expect(await harness.run(fn, probe)).toHaveLength(1);
  });
});

describe("event ids", () => {
  test("a repeated id is stored but starts no second run within 24 h; after that it does", async () => {
    const event = { id: "same-id", name: "batch/unknown", data: {} };
    harness.send(event);
    harness.send(event);
    expect(harness.stored).toHaveLength(2);
    expect(harness.received).toHaveLength(1);
    expect(harness.pendingEvents()).toHaveLength(1);

    harness.advance(24 * 3_600_000);
    harness.send(event);
    expect(harness.stored).toHaveLength(3);
    expect(harness.received).toHaveLength(2);
  });
});
