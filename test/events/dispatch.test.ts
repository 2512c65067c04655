import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { resetEventApiTarget, sendEvents as sendToEventApi } from "@/inngest/send";
import { type OutgoingEvent, watchRequestedEvent } from "@/lib/events/definitions";
import { createOutboxDispatcher } from "@/lib/events/dispatch";
import { enqueueEvents } from "@/lib/events/outbox";
import type { TestDatabase } from "../helpers/db";
import { createDurableDatabase } from "../helpers/durable";
import { replaceEnv } from "../helpers/env";
import { waitUntil } from "../helpers/api";

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createDurableDatabase();
}, 180_000);
afterEach(async () => {
  await testDb.db.exec("DELETE FROM outbox");
});
afterAll(async () => {
  await testDb?.drop();
});

/** Events written to the outbox first, as every caller of the dispatcher does. */
async function committed(n: number): Promise<OutgoingEvent[]> {
  const events = Array.from({ length: n }, () => watchRequestedEvent({ jobId: randomUUID(), provider: "openai", generation: 1, continuation: 0 }));
  await enqueueEvents(testDb.db, events);
  return events;
}

async function unsent(): Promise<string[]> {
  const rows = await testDb.db.query<{ event_id: string }>("SELECT event_id FROM outbox WHERE sent_at IS NULL ORDER BY event_id");
  return rows.map((row) => row.event_id);
}

/** A sender that records each send and fails while `down` is set. */
function scriptedSender() {
  const sends: string[][] = [];
  const sender = {
    sends,
    down: false,
    send: async (events: OutgoingEvent[]) => {
      if (sender.down) throw new Error("503 from the event API");
      sends.push(events.map((event) => event.id));
    },
  };
  return sender;
}

describe("the outbox dispatcher", () => {
  test("events of requests that arrive together go out in one send, and are marked sent", async () => {
    const sender = scriptedSender();
    const dispatcher = createOutboxDispatcher();
    const batches = await Promise.all(Array.from({ length: 30 }, () => committed(1)));
    await Promise.all(batches.map((events) => dispatcher.dispatch(testDb.db, events, sender.send)));
    expect(sender.sends).toEqual([batches.flat().map((event) => event.id)]);
    expect(await unsent()).toEqual([]);
  });

  test("one send carries at most 100 events", async () => {
    const sender = scriptedSender();
    const dispatcher = createOutboxDispatcher();
    await dispatcher.dispatch(testDb.db, await committed(250), sender.send);
    expect(sender.sends.map((ids) => ids.length)).toEqual([100, 100, 50]);
    expect(new Set(sender.sends.flat()).size).toBe(250);
  });

  test("a failed send loses nothing: the events stay unsent, and go out once when the event API is back", async () => {
    const sender = scriptedSender();
    const log = vi.fn();
    const dispatcher = createOutboxDispatcher({ log });
    const events = await committed(3);
    sender.down = true;
    await expect(dispatcher.dispatch(testDb.db, events, sender.send)).resolves.toBeUndefined();
    expect(await unsent()).toEqual(events.map((event) => event.id).sort());
    expect(dispatcher.held()).toBe(3);
    expect(log).toHaveBeenCalledWith(expect.stringContaining("they stay in the outbox and are retried"));

    sender.down = false;
    await waitUntil(async () => (await unsent()).length === 0);
    expect(sender.sends).toEqual([events.map((event) => event.id)]);
    expect(dispatcher.held()).toBe(0);
  });

  test("a held event that the reconciler sent meanwhile is not sent again by the retry", async () => {
    const sender = scriptedSender();
    const dispatcher = createOutboxDispatcher({ log: () => undefined });
    const events = await committed(3);
    sender.down = true;
    await dispatcher.dispatch(testDb.db, events, sender.send);
    expect(dispatcher.held()).toBe(3);
    // The reconciler sends two of them (and marks them sent) before the retry comes round.
    await testDb.db.query("UPDATE outbox SET sent_at = now() WHERE event_id = ANY($1::text[])", [events.slice(0, 2).map((event) => event.id)]);

    sender.down = false;
    await waitUntil(async () => (await unsent()).length === 0);
    await dispatcher.idle();
    expect(sender.sends).toEqual([[events[2]!.id]]);
  });

  test("while the event API is failing, new events wait for the retry instead of each trying a send", async () => {
    const sender = scriptedSender();
    let attempts = 0;
    const send = async (events: OutgoingEvent[]) => {
      attempts += 1;
      await sender.send(events);
    };
    const dispatcher = createOutboxDispatcher({ log: () => undefined });
    sender.down = true;
    const first = await committed(1);
    await dispatcher.dispatch(testDb.db, first, send);
    const later = await committed(2);
    await dispatcher.dispatch(testDb.db, later.slice(0, 1), send);
    await dispatcher.dispatch(testDb.db, later.slice(1), send);
    expect(attempts).toBe(1);
    expect(dispatcher.held()).toBe(3);

    sender.down = false;
    await waitUntil(async () => (await unsent()).length === 0);
    expect(sender.sends).toEqual([[...first, ...later].map((event) => event.id)]);
  });
});

describe("sending to Inngest's event API", () => {
  interface Received {
    url: string;
    headers: IncomingHttpHeaders;
    body: unknown;
  }

  async function eventApi(answer: { status: number; body: string } = { status: 200, body: "" }, options: { dropFirst?: boolean } = {}) {
    const received: Received[] = [];
    let dropped = false;
    const server = createServer((request, response) => {
      if (options.dropFirst && !dropped) {
        // A kept-alive connection the server closes just as the request arrives.
        dropped = true;
        request.socket.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        received.push({ url: request.url ?? "", headers: request.headers, body });
        const ids = (body as { id: string }[]).map((event) => event.id);
        response.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body || JSON.stringify({ ids, status: 200 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      url,
      received,
      close: () => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  const events: OutgoingEvent[] = [
    watchRequestedEvent({ jobId: randomUUID(), provider: "openai", generation: 1, continuation: 0 }),
    watchRequestedEvent({ jobId: randomUUID(), provider: "gemini", generation: 2, continuation: 1 }),
  ];

  test("one POST to /e/<key> with the events as Inngest takes them, and the SDK's headers", async () => {
    const api = await eventApi();
    const restore = replaceEnv({ INNGEST_BASE_URL: api.url });
    resetEventApiTarget();
    try {
      await sendToEventApi(events);
      expect(api.received).toHaveLength(1);
      expect(api.received[0]!.url).toBe("/e/NO_EVENT_KEY_SET");
      expect(api.received[0]!.body).toEqual(events.map((event) => ({ ...event, ts: expect.any(Number) })));
      expect(api.received[0]!.headers).toMatchObject({ "content-type": "application/json", "x-inngest-sdk": expect.stringMatching(/^inngest-js:v4/) });
    } finally {
      restore();
      resetEventApiTarget();
      await api.close();
    }
  });

  test("the environment is read once: a server keeps the target it started with", async () => {
    const first = await eventApi();
    const second = await eventApi();
    const restore = replaceEnv({ INNGEST_BASE_URL: first.url });
    resetEventApiTarget();
    try {
      await sendToEventApi(events.slice(0, 1));
      process.env.INNGEST_BASE_URL = second.url;
      await sendToEventApi(events.slice(1));
      expect(first.received).toHaveLength(2);
      expect(second.received).toHaveLength(0);
    } finally {
      restore();
      resetEventApiTarget();
      await Promise.all([first.close(), second.close()]);
    }
  });

  test("a request that fails before any answer is made once more, on a fresh connection", async () => {
    const api = await eventApi(undefined, { dropFirst: true });
    const restore = replaceEnv({ INNGEST_BASE_URL: api.url });
    resetEventApiTarget();
    try {
      await sendToEventApi(events);
      expect(api.received.map((request) => request.body)).toEqual([events.map((event) => ({ ...event, ts: expect.any(Number) }))]);
    } finally {
      restore();
      resetEventApiTarget();
      await api.close();
    }
  });

  test.each([
    ["a 503", { status: 503, body: JSON.stringify({ error: "unavailable", status: 503 }) }],
    ["a 200 whose body reports an error", { status: 200, body: JSON.stringify({ ids: [], status: 400, error: "bad event" }) }],
    ["a 200 that is not Inngest's JSON", { status: 200, body: "<html>proxy</html>" }],
  ])("%s is a failed send", async (_name, answer) => {
    const api = await eventApi(answer);
    const restore = replaceEnv({ INNGEST_BASE_URL: api.url });
    resetEventApiTarget();
    try {
      await expect(sendToEventApi(events)).rejects.toThrow(/the Inngest event API answered/);
    } finally {
      restore();
      resetEventApiTarget();
      await api.close();
    }
  });
});
