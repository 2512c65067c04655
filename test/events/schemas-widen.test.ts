import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { batchSettled, batchTracked, deliveryRequested, signalReceived, watchRequested } from "@/inngest/events";
import { OUTCOMES, SETTLE_REASONS } from "@/lib/deliver/unified-event";
import { DELIVERY_CAUSES, EVENTS, type EventName, SIGNAL_SOURCES } from "@/lib/events/definitions";
import { JOB_KINDS, PROVIDER_NAMES } from "@/lib/providers/types";

/**
 * Schemas only widen. The Inngest SDK re-validates the trigger event of every run still asleep or
 * retrying on each request it makes, so a schema that no longer accepts a payload the app once
 * emitted fails those runs after a deploy. fixtures/events/emitted.json keeps every shape emitted
 * since the first commit; each must pass today's schema, as zod and as Inngest validates it.
 */
interface Emitted {
  name: EventName;
  since: string;
  by: string;
  data: Record<string, unknown>;
}

const { events: emitted } = JSON.parse(readFileSync(join(process.cwd(), "fixtures/events/emitted.json"), "utf8")) as { events: Emitted[] };
const TRIGGERS = {
  "batch/tracked": batchTracked,
  "batch/watch.requested": watchRequested,
  "batch/signal.received": signalReceived,
  "batch/settled": batchSettled,
  "delivery/requested": deliveryRequested,
} as const;

const valuesOf = (name: EventName, field: string) =>
  new Set(emitted.filter((event) => event.name === name && event.data[field] !== undefined).map((event) => event.data[field]));

describe("every payload shape the app has emitted passes today's schemas", () => {
  test.each(emitted.map((event) => [`${event.name}: ${event.by} (since ${event.since})`, event] as const))("%s", async (_, event) => {
    const parsed = EVENTS[event.name].safeParse(event.data);
    expect(parsed.error?.issues ?? []).toEqual([]);
    await expect(TRIGGERS[event.name].create(event.data as never).validate()).resolves.toBeUndefined();
  });
});

describe("the fixtures keep up with the vocabularies", () => {
  test("every event name has fixtures", () => {
    expect(new Set(emitted.map((event) => event.name))).toEqual(new Set(Object.keys(EVENTS)));
  });

  test.each([
    ["batch/tracked", "provider", PROVIDER_NAMES],
    ["batch/tracked", "kind", JOB_KINDS],
    ["batch/signal.received", "source", SIGNAL_SOURCES],
    ["batch/signal.received", "kind", JOB_KINDS],
    ["batch/settled", "outcome", OUTCOMES],
    ["batch/settled", "provider", PROVIDER_NAMES],
    ["batch/settled", "kind", JOB_KINDS],
    ["delivery/requested", "cause", DELIVERY_CAUSES],
  ] as const)("%s carries every %s the app can emit", (name, field, values) => {
    expect([...values].filter((value) => !valuesOf(name, field).has(value))).toEqual([]);
  });

  test("batch/settled carries every reason, and none", () => {
    expect(valuesOf("batch/settled", "reason")).toEqual(new Set([...SETTLE_REASONS, null]));
  });
});
