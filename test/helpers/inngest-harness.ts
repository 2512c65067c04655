import { InngestTestEngine, mockCtx } from "@inngest/test";
import type { InngestFunction } from "inngest";
import { functions } from "@/inngest/functions";
import { now, setClock } from "@/lib/clock";
import { startEventRecorder, type EventRecorder, type RecordedEvent } from "./event-api";

export type { RecordedEvent } from "./event-api";

export interface FunctionRun {
  functionId: string;
  event: RecordedEvent;
  attempt: number;
  result?: unknown;
  error?: Error;
}

/**
 * Inngest, in-process, for tests: a stand-in for the event API that records what the app sends
 * (so routes that emit events are tested over HTTP), with Inngest's 24 h id dedupe, and a driver
 * that runs each recorded event through the functions it triggers via `@inngest/test`. Sleeps
 * advance a fake clock instead of waiting; failed attempts are retried like Inngest does, up to the
 * function's `retries`, then its `onFailure` runs.
 */
export class InngestHarness {
  readonly received: RecordedEvent[] = [];
  readonly runs: FunctionRun[] = [];
  private readonly pending: RecordedEvent[] = [];
  private readonly seenIds = new Set<string>();
  private eventApi?: EventRecorder;
  private fakeNow: number;
  /** When set, event sends fail with 503 (Inngest unreachable). */
  failSends = false;

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

  /** Events received so far with the given name. */
  named(name: string): RecordedEvent[] {
    return this.received.filter((event) => event.name === name);
  }

  private accept(event: RecordedEvent): void {
    // Inngest drops an event whose id it has seen in the last 24 h.
    if (event.id && this.seenIds.has(event.id)) return;
    if (event.id) this.seenIds.add(event.id);
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
   * Returns the runs made.
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
      for (const fn of runs(event!)) made.push(...(await this.runWithRetries(fn, event!)));
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

  /** Runs one function for one event, as Inngest would run a replay from its dashboard. */
  async runOnce(fn: InngestFunction.Any, event: RecordedEvent, attempt = 0): Promise<FunctionRun> {
    const sleptSteps = new Set<string>();
    // @inngest/test hands back errors serialised (a RetryAfterError loses its delay), so keep
    // the last error a step threw as it was thrown.
    let thrownInStep: unknown;
    const engine = new InngestTestEngine({
      function: fn,
      events: [{ ...event, id: event.id ?? `evt-${this.runs.length}` } as never],
      transformCtx: (raw) => {
        const ctx = mockCtx(raw) as typeof raw & { attempt: number };
        ctx.attempt = attempt;
        const run = ctx.step.run.bind(ctx.step) as (id: string, fn: () => unknown) => Promise<unknown>;
        (ctx.step as { run: unknown }).run = (id: string, fn: () => unknown) =>
          run(id, async () => {
            try {
              return await fn();
            } catch (error) {
              thrownInStep = error;
              throw error;
            }
          });
        // @inngest/test replays the handler from the top for every step; a sleep moves the fake
        // clock once, the first time its step id is reached.
        (ctx.step as { sleep: unknown }).sleep = async (id: string, duration: number | string) => {
          if (sleptSteps.has(id)) return;
          sleptSteps.add(id);
          this.fakeNow += typeof duration === "number" ? duration : parseDuration(duration);
        };
        return ctx;
      },
    });
    const output = await engine.execute();
    const run: FunctionRun = {
      functionId: fn.id(),
      event,
      attempt,
      ...("error" in output && output.error
        ? { error: (thrownInStep as Error | undefined) ?? (output.error as Error) }
        : { result: output.result }),
    };
    this.runs.push(run);
    return run;
  }

  private async runWithRetries(fn: InngestFunction.Any, event: RecordedEvent): Promise<FunctionRun[]> {
    const retries = (fn.opts as { retries?: number }).retries ?? 3;
    const made: FunctionRun[] = [];
    for (let attempt = 0; attempt <= retries; attempt++) {
      const run = await this.runOnce(fn, event, attempt);
      made.push(run);
      if (!run.error) return made;
      if (isNonRetriable(run.error)) break;
      this.fakeNow += retryDelayOf(run.error);
    }
    const onFailure = (fn as unknown as { onFailureFn?: (ctx: unknown) => Promise<unknown> }).onFailureFn;
    if (onFailure) {
      const error = made.at(-1)!.error!;
      await onFailure({
        event: { name: "inngest/function.failed", data: { event, error, function_id: fn.id(), run_id: "harness" } },
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

function retryDelayOf(error: Error): number {
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
  if (typeof retryAfter === "string") {
    // RetryAfterError keeps whole seconds as a string, or an ISO date.
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    return Number.isNaN(at) ? 30_000 : Math.max(1_000, at - now());
  }
  if (typeof retryAfter === "number") return retryAfter;
  if (retryAfter instanceof Date) return Math.max(1_000, retryAfter.getTime() - now());
  return 30_000;
}

function parseDuration(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`unsupported duration ${duration}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms"];
  return Number(match[1]) * unit;
}
