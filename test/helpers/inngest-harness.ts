import { InngestTestEngine, mockCtx } from "@inngest/test";
import type { InngestFunction } from "inngest";
import { functions } from "@/inngest/functions";
import { now, setClock } from "@/lib/clock";
import { engineRetryDelayMs } from "@/lib/engine-backoff";
import { startEventRecorder, type EventRecorder, type RecordedEvent } from "./event-api";

export type { RecordedEvent } from "./event-api";

export interface FunctionRun {
  functionId: string;
  event: RecordedEvent;
  /** The run's id: the same for every attempt of every step of one run, as in the engine. */
  runId: string;
  /** The attempt of the step this execution ran (0 for its first try), as `ctx.attempt` said. */
  attempt: number;
  /** The step this execution failed in, when it failed. */
  stepId?: string;
  result?: unknown;
  error?: Error;
}

/** One run's durable state across its executions: the memoised steps, the sleeps already taken. */
interface RunState {
  runId: string;
  memo: { id: string; handler: () => unknown }[];
  slept: Set<string>;
}

/** A failure outside any step (the function body itself): the engine retries it like a step. */
const FUNCTION_BODY = "(function body)";
/** How long the engine keeps an event id as a run's idempotency key. */
const EVENT_ID_WINDOW_MS = 24 * 3_600_000;

/**
 * Inngest, in-process, for tests: a stand-in for the event API that records what the app sends
 * (so routes that emit events are tested over HTTP), and a driver that runs each recorded event
 * through the functions it triggers via `@inngest/test`, modelling the engine (Inngest v1.43):
 *
 * - Event ids: every event sent is stored (`stored`), but an id seen in the last 24 h starts no
 *   second run (`received` holds the events that triggered runs).
 * - Runs and steps: a run keeps one run id (`ctx.runId`) for all its executions. When a step fails,
 *   only that step is retried: the steps before it are memoised (their callbacks do not run
 *   again; their outputs come back JSON round-tripped, as the engine stores them), sleeps already
 *   taken are not taken again, and `ctx.attempt` counts that step's attempts from 0. Each step gets
 *   the function's `retries` (default 3) of its own; then the run fails and `onFailure` runs.
 * - Retry delays: a `RetryAfterError`'s delay, else the engine's table (lib/engine-backoff.ts) plus
 *   `jitterMs` (0 by default; the engine adds 0–30 s at random). Sleeps and delays move a fake clock.
 *
 * Where it still differs from the engine:
 * - One run at a time, each to its end: runs never interleave, so `concurrency` limits, a
 *   `singleton` cancelling an older run, and a crash between steps are not modelled here (drive
 *   them by hand with `runOnce`, `discardPending` and `requeue`, or in `npm run test:engine`).
 * - No checkpointing, parallel steps, `step.waitForEvent`, `step.invoke`, step or run limits
 *   (1,000 steps, output sizes), cron schedules, throttles or debounces; crons run only when a test
 *   calls `runOnce` with a timer event.
 * - Events a function sends are queued at once; the engine schedules their runs a little later.
 * - `onFailure` is called directly with a minimal `inngest/function.failed` event, not as a run.
 */
export class InngestHarness {
  /** Events that started runs (the first of each id within 24 h). */
  readonly received: RecordedEvent[] = [];
  /** Every event sent, repeats included: the engine stores them all. */
  readonly stored: RecordedEvent[] = [];
  readonly runs: FunctionRun[] = [];
  private readonly pending: RecordedEvent[] = [];
  private readonly seenIds = new Map<string, number>();
  private eventApi?: EventRecorder;
  private fakeNow: number;
  private runCount = 0;
  /** When set, event sends fail with 503 (Inngest unreachable). */
  failSends = false;
  /** Added to every table backoff wait (the engine adds 0–30 s at random): set 30_000 for the worst case. */
  jitterMs = 0;

  constructor(startAt = Date.UTC(2026, 10, 23, 12, 0, 0)) {
    this.fakeNow = startAt;
  }

  get url(): string {
    return this.eventApi!.url;
  }

  /** Starts the stand-in event API, points the Inngest client at it and freezes the clock. */
  async start(): Promise<this> {
    this.eventApi = await startEventRecorder({
      receive: (events) => events.forEach((event) => this.accept(event)),
      unavailable: () => this.failSends,
    });
    setClock(() => this.fakeNow);
    return this;
  }

  async stop(): Promise<void> {
    setClock();
    await this.eventApi?.close();
  }

  /** Moves the fake clock forward. */
  advance(ms: number): void {
    this.fakeNow += ms;
  }

  now(): number {
    return now();
  }

  /** Events that started runs so far with the given name. */
  named(name: string): RecordedEvent[] {
    return this.received.filter((event) => event.name === name);
  }

  private accept(event: RecordedEvent): void {
    this.stored.push(event);
    // The engine keeps the event but starts no second run for an id it saw in the last 24 h.
    if (event.id) {
      const seenAt = this.seenIds.get(event.id);
      if (seenAt !== undefined && this.fakeNow - seenAt < EVENT_ID_WINDOW_MS) return;
      this.seenIds.set(event.id, this.fakeNow);
    }
    this.received.push(event);
    this.pending.push(event);
  }

  /** Puts back an event taken with {@link discardPending}, bypassing the id dedupe. */
  requeue(event: RecordedEvent): void {
    this.pending.push(event);
  }

  /** Queues an event as if a user's app had sent it with `inngest.send`. */
  send(event: RecordedEvent): void {
    this.accept(event);
  }

  /**
   * Runs pending events through their functions until nothing is left, or until `until` says stop.
   * Returns the executions made.
   */
  async drain(options: { maxRuns?: number; only?: string[] } = {}): Promise<FunctionRun[]> {
    const made: FunctionRun[] = [];
    const maxRuns = options.maxRuns ?? 200;
    const runs = (event: RecordedEvent) =>
      functionsFor(event.name).filter((fn) => !options.only || options.only.includes(fn.id()));
    for (;;) {
      // With `only`, events for other functions stay pending, as if those functions were slow.
      const index = this.pending.findIndex((event) => runs(event).length > 0);
      if (index === -1) return made;
      if (made.length >= maxRuns) throw new Error(`drain: more than ${maxRuns} runs; is something looping?`);
      const [event] = this.pending.splice(index, 1);
      for (const fn of runs(event!)) made.push(...(await this.run(fn, event!)));
    }
  }

  /** Drops pending events without running them (a lost event, or Inngest down). */
  discardPending(name?: string): RecordedEvent[] {
    const dropped = this.pending.filter((event) => !name || event.name === name);
    const kept = this.pending.filter((event) => name !== undefined && event.name !== name);
    this.pending.splice(0, this.pending.length, ...kept);
    return dropped;
  }

  pendingEvents(): RecordedEvent[] {
    return [...this.pending];
  }

  /**
   * One execution of a new run of `fn` for `event` (as a rerun from Inngest's dashboard starts
   * one): its first step runs with `ctx.attempt` = `attempt`, and a failure is not retried.
   */
  async runOnce(fn: InngestFunction.Any, event: RecordedEvent, attempt = 0): Promise<FunctionRun> {
    return this.execute(fn, event, this.newRun(), attempt);
  }

  private newRun(): RunState {
    this.runCount += 1;
    return { runId: `harness-run-${String(this.runCount).padStart(4, "0")}`, memo: [], slept: new Set() };
  }

  /** One execution (one request from the engine): memoised steps replay, the next step runs. */
  private async execute(fn: InngestFunction.Any, event: RecordedEvent, run: RunState, attempt: number): Promise<FunctionRun> {
    // @inngest/test hands back errors serialised (a RetryAfterError loses its delay), so keep
    // the last error a step threw as it was thrown, and which step threw it.
    let thrown: { stepId: string; error: unknown } | undefined;
    // The attempt of the step the next execution runs: a retried step's count, 0 after a success.
    let nextAttempt = attempt;
    const engine = new InngestTestEngine({
      function: fn,
      events: [{ ...event, id: event.id ?? `evt-${this.runs.length}` } as never],
      steps: run.memo.map((step) => ({ ...step })),
      transformCtx: (raw) => {
        const ctx = mockCtx(raw) as typeof raw & { attempt: number; runId: string };
        ctx.attempt = nextAttempt;
        ctx.runId = run.runId;
        const stepRun = ctx.step.run.bind(ctx.step) as (id: string, fn: () => unknown) => Promise<unknown>;
        (ctx.step as { run: unknown }).run = (id: string, fn: () => unknown) =>
          stepRun(id, async () => {
            try {
              const data = await fn();
              // The engine stores a step's output as JSON and hands that back on every later request.
              const stored = data === undefined ? undefined : JSON.parse(JSON.stringify(data));
              run.memo.push({ id, handler: () => stored });
              nextAttempt = 0;
              return data;
            } catch (error) {
              thrown = { stepId: id, error };
              throw error;
            }
          });
        // A sleep moves the fake clock once per run, the first time its step id is reached.
        (ctx.step as { sleep: unknown }).sleep = async (id: string, duration: number | string) => {
          if (run.slept.has(id)) return;
          run.slept.add(id);
          nextAttempt = 0;
          this.fakeNow += typeof duration === "number" ? duration : parseDuration(duration);
        };
        return ctx;
      },
    });
    const output = await engine.execute();
    const failed = "error" in output && output.error;
    const execution: FunctionRun = {
      functionId: fn.id(),
      event,
      runId: run.runId,
      attempt: failed && thrown ? nextAttempt : attempt,
      ...(failed
        ? { stepId: thrown?.stepId ?? FUNCTION_BODY, error: (thrown?.error as Error | undefined) ?? (output.error as Error) }
        : { result: output.result }),
    };
    this.runs.push(execution);
    return execution;
  }

  /** A whole run of `fn` for `event`: each failed step is retried on its own, up to the function's `retries`. */
  async run(fn: InngestFunction.Any, event: RecordedEvent): Promise<FunctionRun[]> {
    const retries = (fn.opts as { retries?: number }).retries ?? 3;
    const run = this.newRun();
    const made: FunctionRun[] = [];
    const attempts = new Map<string, number>();
    let attempt = 0;
    for (;;) {
      const execution = await this.execute(fn, event, run, attempt);
      made.push(execution);
      if (!execution.error) return made;
      const stepId = execution.stepId ?? FUNCTION_BODY;
      const failedAttempt = attempts.get(stepId) ?? execution.attempt;
      if (isNonRetriable(execution.error) || failedAttempt >= retries) break;
      this.fakeNow += retryDelayOf(execution.error, failedAttempt, this.jitterMs);
      attempt = failedAttempt + 1;
      attempts.set(stepId, attempt);
    }
    const onFailure = (fn as unknown as { onFailureFn?: (ctx: unknown) => Promise<unknown> }).onFailureFn;
    if (onFailure) {
      const error = made.at(-1)!.error!;
      await onFailure({
        event: { name: "inngest/function.failed", data: { event, error, function_id: fn.id(), run_id: run.runId } },
        error,
        step: {},
      });
    }
    return made;
  }
}

export function functionsFor(eventName: string): InngestFunction.Any[] {
  return functions.filter((fn) =>
    (fn.opts as { triggers?: { event?: string }[] }).triggers?.some((trigger) => trigger.event === eventName),
  ) as InngestFunction.Any[];
}

export function functionById(id: string): InngestFunction.Any {
  const found = (functions as InngestFunction.Any[]).find((fn) => fn.id() === id);
  if (!found) throw new Error(`no function ${id}`);
  return found;
}

function isNonRetriable(error: Error): boolean {
  return error.name === "NonRetriableError";
}

/** The wait before the next attempt: a RetryAfterError's own, else the engine's table plus jitter. */
function retryDelayOf(error: Error, failedAttempt: number, jitterMs: number): number {
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
  if (typeof retryAfter === "string") {
    // RetryAfterError keeps whole seconds as a string, or an ISO date.
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now());
  }
  if (typeof retryAfter === "number") return retryAfter;
  if (retryAfter instanceof Date) return Math.max(0, retryAfter.getTime() - now());
  return engineRetryDelayMs(failedAttempt) + jitterMs;
}

function parseDuration(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`unsupported duration ${duration}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms"];
  return Number(match[1]) * unit;
}
