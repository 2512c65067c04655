import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resetEventApiTarget } from "@/inngest/send";

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
  /** While true it answers 503 and records nothing, as an Inngest that is down. */
  down: boolean;
  close(): Promise<void>;
}

export interface EventRecorder {
  /** The base URL, also set as INNGEST_BASE_URL until {@link EventRecorder.close}. */
  url: string;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function answer(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ ...body, status }));
}

/**
 * The HTTP side of a local stand-in for Inngest's event API: answers `POST /e/<key>` the way
 * Inngest does and hands each request's events to `receive`. It points INNGEST_BASE_URL at itself
 * (INNGEST_DEV=1 is set by the test setup) and restores the previous value on close, each time
 * telling the app's sender, which reads it once, to read it again. While `unavailable()` is true
 * it answers 503, as an Inngest that is down.
 */
export async function startEventRecorder(options: {
  receive(events: RecordedEvent[]): void;
  unavailable?: () => boolean;
}): Promise<EventRecorder> {
  let received = 0;
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    if (options.unavailable?.()) return answer(response, 503, { error: "unavailable" });
    if (request.method !== "POST" || !request.url?.startsWith("/e/")) return answer(response, 404, { error: "not found" });
    let events: RecordedEvent[];
    try {
      const payload: unknown = JSON.parse(body);
      events = (Array.isArray(payload) ? payload : [payload]) as RecordedEvent[];
    } catch {
      return answer(response, 400, { error: "invalid JSON" });
    }
    options.receive(events);
    received += events.length;
    answer(response, 200, { ids: events.map((event, index) => event.id ?? `standin-${received + index}`) });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const previous = process.env.INNGEST_BASE_URL;
  process.env.INNGEST_BASE_URL = url;
  resetEventApiTarget();

  return {
    url,
    async close() {
      if (process.env.INNGEST_BASE_URL === url) {
        if (previous === undefined) delete process.env.INNGEST_BASE_URL;
        else process.env.INNGEST_BASE_URL = previous;
        resetEventApiTarget();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A stand-in for Inngest's event API that records every event it receives, so tests can assert what was sent. */
export async function startEventApiStandIn(): Promise<EventApiStandIn> {
  const events: RecordedEvent[] = [];
  const standIn: EventApiStandIn = {
    url: "",
    events,
    named: (name: string) => events.filter((event) => event.name === name),
    down: false,
    close: async (): Promise<void> => undefined,
  };
  const recorder = await startEventRecorder({ receive: (received) => events.push(...received), unavailable: () => standIn.down });
  standIn.url = recorder.url;
  standIn.close = () => recorder.close();
  return standIn;
}

/** A URL on which nothing listens: an unreachable Inngest. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}
