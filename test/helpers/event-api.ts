import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One event as Inngest's event API received it. */
export interface RecordedEvent {
  name: string;
  data: Record<string, unknown>;
  id?: string;
  ts?: number;
}

export interface EventApiStandIn {
  /** The base URL, also set as INNGEST_BASE_URL until {@link EventApiStandIn.close}. */
  url: string;
  /** Every event received, in order. */
  events: RecordedEvent[];
  /** Events received with this name. */
  named(name: string): RecordedEvent[];
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A small local stand-in for Inngest's event API: answers `POST /e/<key>` the way Inngest does
 * and records the events, so tests can assert what was sent without an Inngest server. It points
 * INNGEST_BASE_URL at itself (the client reads it on every send; INNGEST_DEV=1 is set by the test
 * setup) and restores the previous value on close.
 */
export async function startEventApiStandIn(): Promise<EventApiStandIn> {
  const events: RecordedEvent[] = [];
  const server = createServer(async (request, response) => {
    if (request.method !== "POST" || !request.url?.startsWith("/e/")) {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
      return;
    }
    try {
      const payload: unknown = JSON.parse(await readBody(request));
      const received = (Array.isArray(payload) ? payload : [payload]) as RecordedEvent[];
      events.push(...received);
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ ids: received.map((event, index) => event.id ?? `standin-${events.length + index}`), status: 200 }));
    } catch {
      response.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid JSON", status: 400 }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const previous = process.env.INNGEST_BASE_URL;
  process.env.INNGEST_BASE_URL = url;

  return {
    url,
    events,
    named: (name) => events.filter((event) => event.name === name),
    async close() {
      if (process.env.INNGEST_BASE_URL === url) {
        if (previous === undefined) delete process.env.INNGEST_BASE_URL;
        else process.env.INNGEST_BASE_URL = previous;
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL on which nothing listens: an unreachable Inngest. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}
