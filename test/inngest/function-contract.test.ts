import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type CelInput, isCelError, run as runCel } from "@bufbuild/cel";
import type { InngestFunction } from "inngest";
import { beforeAll, describe, expect, test } from "vitest";
import { GET } from "@/app/api/inngest/route";
import { batchSettled, batchTracked, deliveryRequested, signalReceived, watchRequested } from "@/inngest/events";
import { functions } from "@/inngest/functions";
import { DELIVERY_RETRIES } from "@/inngest/functions/deliver-webhook";
import { POLL_CONCURRENCY_PER_PROVIDER } from "@/inngest/functions/watch-batch";
import { PROVIDER_NAMES } from "@/lib/providers/types";

/**
 * The functions as Inngest receives them at registration (the SDK's `getConfig` payload, which the
 * serve route sends on sync), and every CEL expression in it evaluated the way Inngest evaluates
 * it, with @bufbuild/cel, against events shaped by our own schemas.
 */

const APP_ID = "batchwatch";
const SERVE_URL = new URL("http://localhost:3000/api/inngest");

interface FunctionConfig {
  id: string;
  name?: string;
  triggers: ({ event: string; expression?: string } | { cron: string })[];
  steps: Record<string, { retries?: { attempts: number }; runtime: { type: string; url: string } }>;
  concurrency?: { key?: string; limit: number; scope?: string }[];
  throttle?: { key?: string };
  rateLimit?: { key?: string };
  debounce?: { key?: string };
  idempotency?: string;
  priority?: { run?: string };
  singleton?: { key?: string; mode: "skip" | "cancel" };
  batchEvents?: { key?: string; if?: string };
  cancel?: { event: string; if?: string }[];
}

function registrationOf(fn: InngestFunction.Any): FunctionConfig[] {
  return (fn as unknown as { getConfig(options: { baseUrl: URL; appPrefix: string }): FunctionConfig[] }).getConfig({
    baseUrl: SERVE_URL,
    appPrefix: APP_ID,
  });
}

const registered = functions as unknown as InngestFunction.Any[];
const payload = registered.flatMap(registrationOf);
const configById = (id: string) => payload.find((config) => config.id === `${APP_ID}-${id}`);

/** Every function defined in inngest/functions/*.ts, whether or not the serve route registers it. */
let defined: InngestFunction.Any[] = [];
beforeAll(async () => {
  const folder = join(process.cwd(), "inngest/functions");
  const modules = await Promise.all(
    readdirSync(folder)
      .filter((file) => file.endsWith(".ts") && file !== "index.ts")
      .map((file) => import(/* @vite-ignore */ join(folder, file)) as Promise<Record<string, unknown>>),
  );
  defined = modules.flatMap((module) =>
    Object.values(module).filter(
      (value): value is InngestFunction.Any =>
        typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "function" && "opts" in value,
    ),
  );
});

const EXPECTED: Record<
  string,
  {
    triggers: FunctionConfig["triggers"];
    retries: number;
    concurrency?: FunctionConfig["concurrency"];
    singleton?: FunctionConfig["singleton"];
    onFailure?: boolean;
  }
> = {
  "track-batch": { triggers: [{ event: "batch/tracked" }], retries: 5 },
  "watch-batch": {
    triggers: [{ event: "batch/watch.requested" }],
    retries: 6,
    concurrency: [{ key: "event.data.provider", limit: POLL_CONCURRENCY_PER_PROVIDER }],
  },
  "settle-batch": {
    triggers: [{ event: "batch/signal.received" }],
    retries: 8,
    concurrency: [{ key: "event.data.provider + ':' + event.data.batchId", limit: 1 }],
  },
  "deliver-webhook": {
    triggers: [{ event: "delivery/requested" }],
    retries: 20,
    // One run per delivery: a new run (resend, recovery, replay) cancels the older one.
    singleton: { key: "event.data.deliveryId", mode: "cancel" },
    onFailure: true,
  },
  reconcile: { triggers: [{ cron: "*/5 * * * *" }], retries: 2 },
  "prune-retention": { triggers: [{ cron: "TZ=UTC 30 3 * * *" }], retries: 2 },
};

describe("the registration payload", () => {
  test("every function defined under inngest/functions is registered by the serve route", () => {
    expect(defined.length).toBeGreaterThan(0);
    const registeredIds = registered.map((fn) => fn.id());
    expect(defined.map((fn) => fn.id()).sort()).toEqual([...registeredIds].sort());
  });

  test("function ids are the fixed ones Inngest keys runs and history by, unique, and prefixed with the app id", () => {
    const ids = defined.map((fn) => fn.id());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const fn of defined) {
      expect(fn.id(APP_ID)).toBe(`${APP_ID}-${fn.id()}`);
      expect((fn.opts as { id: string }).id).toBe(fn.id());
      expect(fn.id()).toMatch(/^[a-z][a-z0-9-]*$/);
    }
  });

  test.each(Object.entries(EXPECTED))("%s: triggers, explicit retries, concurrency and singleton as Inngest receives them", (id, expected) => {
    const fn = defined.find((each) => each.id() === id);
    expect(fn, `${id} is defined`).toBeDefined();
    expect((fn!.opts as { retries?: unknown }).retries).toBe(expected.retries);

    const [config, ...extra] = registrationOf(fn!);
    expect(config!.id).toBe(`${APP_ID}-${id}`);
    expect(config!.triggers).toEqual(expected.triggers.map((trigger) => ("event" in trigger ? { event: trigger.event, expression: undefined } : trigger)));
    expect(Object.values(config!.steps).map((step) => step.retries)).toEqual([{ attempts: expected.retries }]);
    expect(Object.values(config!.steps)[0]!.runtime.url).toBe(`${SERVE_URL.href}?fnId=${APP_ID}-${id}&stepId=step`);
    expect(config!.concurrency).toEqual(expected.concurrency);
    expect(config!.singleton).toEqual(expected.singleton);
    expect(config!.throttle ?? config!.rateLimit ?? config!.debounce ?? config!.batchEvents ?? config!.cancel).toBeUndefined();

    if (expected.onFailure) {
      expect(extra).toHaveLength(1);
      expect(extra[0]).toMatchObject({
        id: `${APP_ID}-${id}-failure`,
        triggers: [{ event: "inngest/function.failed", expression: `event.data.function_id == '${APP_ID}-${id}'` }],
      });
    } else {
      expect(extra).toEqual([]);
    }
  });

  test("deliver-webhook retries 20 times (21 attempts) before its onFailure handler gives the delivery up", () => {
    expect(DELIVERY_RETRIES).toBe(20);
    expect(configById("deliver-webhook")!.steps.step!.retries).toEqual({ attempts: 20 });
  });

  test("GET on the serve route answers 200 with the number of functions Inngest will sync", async () => {
    const response = await (GET as unknown as (request: Request, context: unknown) => Promise<Response>)(
      new Request(SERVE_URL),
      { params: Promise.resolve({}) },
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { function_count: number; mode: string };
    // Each onFailure handler is a function of its own in Inngest.
    expect(body.function_count).toBe(payload.length);
    expect(body.function_count).toBe(registered.length + registered.filter((fn) => Boolean((fn as unknown as { onFailureFn?: unknown }).onFailureFn)).length);
    expect(body.mode).toBe("dev");
  });
});

// ---------------------------------------------------------------------------------------------
// CEL
// ---------------------------------------------------------------------------------------------

type SampleEvent = { name: string; data: Record<string, unknown>; id: string; ts: number };

/** An event as Inngest stores it, its data checked against our own schema for that name. */
function sample(schema: { "~standard": { validate(value: unknown): unknown } }, name: string, data: Record<string, unknown>): SampleEvent {
  const checked = schema["~standard"].validate(data) as { issues?: unknown[] };
  if (checked.issues) throw new Error(`sample ${name} does not match its schema: ${JSON.stringify(checked.issues)}`);
  return { name, data, id: `evt-${Math.random().toString(36).slice(2)}`, ts: 1_795_000_000_000 };
}

function evaluate(expression: string, event: SampleEvent): unknown {
  const result = runCel(expression, { event: event as unknown as CelInput });
  if (isCelError(result)) throw new Error(`CEL "${expression}" failed on ${JSON.stringify(event.data)}: ${result.message}`);
  return result;
}

const JOB_A = "5f0c1a52-3c1b-4d7e-9a55-0b8f6a0f2d11";
const JOB_B = "a7e3d9b0-6f1e-4c2a-8d4b-2e9c5f7a1b33";
const schemaOf = (eventType: { schema: unknown }) => eventType.schema as Parameters<typeof sample>[0];

const watch = (jobId: string, provider: string, generation = 1, continuation = 0) =>
  sample(schemaOf(watchRequested), "batch/watch.requested", { jobId, provider, generation, continuation });
const signal = (provider: string, batchId: string, inboundEventId = 1, source = "openai", kind = "batch") =>
  sample(schemaOf(signalReceived), "batch/signal.received", { source, provider, kind, batchId, inboundEventId, eventType: "batch.completed" });
const deliver = (deliveryId: string, cause = "settled") => sample(schemaOf(deliveryRequested), "delivery/requested", { deliveryId, cause });
const failed = (functionId: string) => ({
  name: "inngest/function.failed",
  data: { function_id: functionId, run_id: "01J0000000000000000000000", error: { message: "boom" }, event: deliver("msg_a") },
  id: "evt-failed",
  ts: 1_795_000_000_000,
});

/**
 * For each expression we hand Inngest: pairs of events that must share a concurrency slot (same
 * key) and pairs that must not (different keys), or for a trigger expression, when it matches.
 */
const KEY_CASES: Record<string, { same: [string, SampleEvent, SampleEvent][]; different: [string, SampleEvent, SampleEvent][] }> = {
  "event.data.provider": {
    same: [
      ["two jobs of one provider share the provider's poll slots", watch(JOB_A, "openai"), watch(JOB_B, "openai")],
      ["a continuation shares its provider's slots", watch(JOB_A, "anthropic", 1, 0), watch(JOB_A, "anthropic", 2, 3)],
    ],
    different: [
      ["one job's provider does not hold another provider's slots", watch(JOB_A, "openai"), watch(JOB_A, "anthropic")],
      ["gemini and groq poll independently", watch(JOB_A, "gemini"), watch(JOB_B, "groq")],
    ],
  },
  "event.data.provider + ':' + event.data.batchId": {
    same: [
      ["a retried webhook and the replay at tracking time settle one batch one at a time", signal("openai", "batch_1", 7), signal("openai", "batch_1", 9)],
      ["the same batch whatever the signal's source", signal("gemini", "batches/abc", 1, "gemini"), signal("gemini", "batches/abc", 2, "gemini")],
    ],
    different: [
      ["two batches of one provider settle in parallel", signal("openai", "batch_1"), signal("openai", "batch_2")],
      ["one batch id at two providers is two batches", signal("openai", "batch_1"), signal("azure", "batch_1")],
      ["provider and id cannot run together into one key", signal("xai", "batch_1"), signal("openai", "xai:batch_1")],
    ],
  },
  "event.data.deliveryId": {
    same: [
      ["a resend replaces the delivery's older run", deliver("msg_a", "settled"), deliver("msg_a", "resend")],
      ["a recovery replaces it too", deliver("msg_a", "recover"), deliver("msg_a", "resend")],
    ],
    different: [["two deliveries never cancel each other", deliver("msg_a"), deliver("msg_b")]],
  },
};

const TRIGGER_CASES: Record<string, { matches: SampleEvent[]; ignores: SampleEvent[] }> = {
  "event.data.function_id == 'batchwatch-deliver-webhook'": {
    matches: [failed("batchwatch-deliver-webhook")],
    ignores: [failed("batchwatch-watch-batch"), failed("batchwatch-deliver-webhook-failure"), failed("deliver-webhook")],
  },
};

/** Every CEL expression in the registration payload, wherever Inngest accepts one. */
function expressionsIn(configs: FunctionConfig[]): { key: string[]; trigger: string[] } {
  const key = new Set<string>();
  const trigger = new Set<string>();
  for (const config of configs) {
    for (const limit of config.concurrency ?? []) if (limit.key) key.add(limit.key);
    for (const option of [config.throttle, config.rateLimit, config.debounce, config.singleton, config.batchEvents]) {
      if (option?.key) key.add(option.key);
    }
    if (config.idempotency) key.add(config.idempotency);
    if (config.priority?.run) trigger.add(config.priority.run);
    if (config.batchEvents?.if) trigger.add(config.batchEvents.if);
    for (const each of config.triggers) if ("expression" in each && each.expression) trigger.add(each.expression);
    for (const cancel of config.cancel ?? []) if (cancel.if) trigger.add(cancel.if);
  }
  return { key: [...key].sort(), trigger: [...trigger].sort() };
}

describe("CEL expressions handed to Inngest", () => {
  test("every expression in the payload is covered by the cases below (a new one needs its own cases)", () => {
    const found = expressionsIn(payload);
    expect(found.key).toEqual(Object.keys(KEY_CASES).sort());
    expect(found.trigger).toEqual(Object.keys(TRIGGER_CASES).sort());
  });

  describe.each(Object.entries(KEY_CASES))("key %s", (expression, cases) => {
    test("parses and evaluates to a non-empty string for every sample", () => {
      for (const [, left, right] of [...cases.same, ...cases.different]) {
        for (const event of [left, right]) {
          const key = evaluate(expression, event);
          expect(typeof key).toBe("string");
          expect(key).not.toBe("");
        }
      }
    });
    test.each(cases.same)("same slot: %s", (_why, left, right) => {
      expect(evaluate(expression, left)).toEqual(evaluate(expression, right));
    });
    if (cases.different.length > 0) {
      test.each(cases.different)("different slots: %s", (_why, left, right) => {
        expect(evaluate(expression, left)).not.toEqual(evaluate(expression, right));
      });
    }
  });

  test("the settle key is unambiguous: no provider name contains the ':' separator", () => {
    expect(PROVIDER_NAMES.filter((name) => name.includes(":"))).toEqual([]);
  });

  test("the watch key gives each provider a slot set of its own", () => {
    const keys = PROVIDER_NAMES.map((provider) => evaluate("event.data.provider", watch(JOB_A, provider)));
    expect(new Set(keys).size).toBe(PROVIDER_NAMES.length);
  });

  test.each(Object.entries(TRIGGER_CASES))("trigger %s matches only its own function's failures", (expression, cases) => {
    for (const event of cases.matches) expect(evaluate(expression, event as SampleEvent)).toBe(true);
    for (const event of cases.ignores) expect(evaluate(expression, event as SampleEvent)).toBe(false);
  });

  test("the documented waitForEvent match for batch/settled (data.provider + data.batchId) pairs a tracked batch with its settlement", () => {
    const tracked = sample(schemaOf(batchTracked), "batch/tracked", { provider: "openai", batchId: "batch_1", webhookUrl: "https://example.com/hook" });
    const settled = (provider: string, batchId: string) =>
      sample(schemaOf(batchSettled), "batch/settled", {
        jobId: JOB_A,
        provider,
        kind: "batch",
        batchId,
        outcome: "completed",
        status: "completed",
        reason: null,
        type: "batch.completed",
      });
    const match = "event.data.provider == async.data.provider && event.data.batchId == async.data.batchId";
    const matches = (asyncEvent: SampleEvent) => {
      const result = runCel(match, { event: tracked as unknown as CelInput, async: asyncEvent as unknown as CelInput });
      if (isCelError(result)) throw result;
      return result;
    };
    expect(matches(settled("openai", "batch_1"))).toBe(true);
    expect(matches(settled("openai", "batch_2"))).toBe(false);
    expect(matches(settled("azure", "batch_1"))).toBe(false);
  });
});
