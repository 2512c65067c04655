import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as gemini from "@/app/api/webhooks/gemini/route";
import * as openai from "@/app/api/webhooks/openai/route";
import { sendEvents } from "@/inngest/send";
import { nowDate, setClock } from "@/lib/clock";
import { createOutboxDispatcher, outboxDispatcher, setOutboxDispatcher } from "@/lib/events/dispatch";
import { flushStaleOutbox } from "@/lib/events/outbox";
import { buildWebhookHeaders, generateWebhookSecret } from "@/lib/security/standard-webhooks";
import { replaceEnv } from "../helpers/env";
import { call, useApiHarness, waitUntil } from "../helpers/api";

/**
 * Nothing lost at ingest: every request a route accepted (provider webhooks and tracking, many at
 * once) ends as one event at Inngest's event API — sent after the answer, in shared batches — and
 * an outage of the event API in the middle of a run only delays events: they are sent once it is
 * back, by the process that took them or, if that process is gone, by the reconciler.
 */

const harness = useApiHarness();
const OPENAI_SECRET = generateWebhookSecret();
const GEMINI_SECRET = generateWebhookSecret();
let restoreEnv: () => void;

beforeAll(() => {
  restoreEnv = replaceEnv({ OPENAI_WEBHOOK_SECRET: OPENAI_SECRET, GEMINI_WEBHOOK_SECRET: GEMINI_SECRET });
});
afterEach(() => {
  harness.events.down = false;
  setClock();
  setOutboxDispatcher();
});
afterAll(() => restoreEnv());

let n = 0;
/** One accepted request of each kind in turn: an OpenAI webhook, a Gemini webhook, a tracking call. */
function request(): Promise<{ status: number }> {
  n += 1;
  const signed = (body: string, secret: string) => ({ ...buildWebhookHeaders({ id: `msg_${randomUUID()}`, body, secrets: [secret] }) });
  switch (n % 3) {
    case 0: {
      const body = JSON.stringify({ object: "event", id: `evt_${n}`, type: "batch.completed", created_at: 1, data: { id: `batch_${n}` } });
      return call(openai.POST, "POST", "/api/webhooks/openai", { body, headers: signed(body, OPENAI_SECRET), key: null });
    }
    case 1: {
      const body = JSON.stringify({ type: "batch.succeeded", version: "v1", data: { id: `batches/${n}` } });
      return call(gemini.POST, "POST", "/api/webhooks/gemini", { body, headers: signed(body, GEMINI_SECRET), key: null });
    }
    default:
      return call(batches.POST, "POST", "/api/batches", {
        body: { provider: "simulated", batchId: `sim_${60 + n}s_completed_${n}`, webhookUrl: "http://127.0.0.1:9/hooks" },
      });
  }
}

/** `count` requests at once; every one must be accepted. */
async function wave(count: number): Promise<void> {
  const statuses = (await Promise.all(Array.from({ length: count }, request))).map((response) => response.status);
  expect(statuses.filter((status) => status < 200 || status >= 300)).toEqual([]);
}

async function outboxIds(): Promise<{ all: string[]; unsent: string[] }> {
  const rows = await harness.db.query<{ event_id: string; sent: boolean }>("SELECT event_id, sent_at IS NOT NULL AS sent FROM outbox ORDER BY event_id");
  return { all: rows.map((row) => row.event_id), unsent: rows.filter((row) => !row.sent).map((row) => row.event_id) };
}

/** The ids the event API took, sorted, repeats kept (so a repeat shows). */
const receivedIds = () => harness.events.events.map((event) => event.id!).sort();

/** What a failing send logs; held back so an expected outage does not fail the test. */
function quietOutageLog() {
  return vi.spyOn(console, "error").mockImplementation(() => undefined);
}

describe("nothing lost at ingest", () => {
  test("under load every accepted event reaches the event API exactly once", async () => {
    await wave(90);
    await outboxDispatcher().idle();
    const outbox = await outboxIds();
    expect(outbox.all).toHaveLength(90);
    expect(outbox.unsent).toEqual([]);
    expect(receivedIds()).toEqual(outbox.all);
    expect(harness.events.named("batch/tracked")).toHaveLength(30);
    expect(harness.events.named("batch/signal.received")).toHaveLength(60);
  });

  test("an outage of the event API in the middle of a run delays events and loses none: each is sent once it is back", async () => {
    const log = quietOutageLog();
    try {
      await wave(30);
      await outboxDispatcher().idle();
      harness.events.down = true;
      await wave(30);
      expect(harness.events.events).toHaveLength(30);
      harness.events.down = false;
      await wave(30);
      await waitUntil(async () => (await outboxIds()).unsent.length === 0);
      await outboxDispatcher().idle();
    } finally {
      log.mockRestore();
    }
    const outbox = await outboxIds();
    expect(outbox.all).toHaveLength(90);
    expect(receivedIds()).toEqual(outbox.all);
  });

  test("when the process that took the events is gone, the reconciler sends every one once the event API is back", async () => {
    const log = quietOutageLog();
    try {
      // The process that answers during the outage holds its failed events in memory …
      setOutboxDispatcher(createOutboxDispatcher({ log: () => undefined, retryDelaysMs: [3_600_000] }));
      harness.events.down = true;
      await wave(45);
      expect(harness.events.events).toEqual([]);
      // … and ends before it can retry them; a new process answers once the event API is back.
      setOutboxDispatcher();
      harness.events.down = false;
      await wave(15);
      await outboxDispatcher().idle();
      expect(harness.events.events).toHaveLength(15);

      // The reconciler's outbox step, past its staleness threshold (inngest/functions/reconcile.ts).
      const later = nowDate().getTime() + 3 * 60_000;
      setClock(() => later);
      await flushStaleOutbox(harness.db, new Date(later - 2 * 60_000), sendEvents);
    } finally {
      log.mockRestore();
    }
    const outbox = await outboxIds();
    expect(outbox.all).toHaveLength(60);
    expect(outbox.unsent).toEqual([]);
    expect(receivedIds()).toEqual(outbox.all);
  });
});
