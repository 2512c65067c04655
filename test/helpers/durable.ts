import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { InngestTestEngine, mockCtx } from "@inngest/test";
import type { InngestFunction } from "inngest";
import { Webhook } from "standardwebhooks";
import type { EventName, OutgoingEvent } from "@/lib/events/definitions";
import type { EventSender } from "@/lib/events/outbox";
import { createTestDatabase, TEST_DRIVERS, type TestDatabase, type TestDriver } from "./db";

/**
 * Helpers for the durable tests (test/deliver, test/settle, test/flow). Nothing here replaces the lead's harness: it adds what the durable
 * tests need around it (a faster database, scripted servers, a recording sender).
 */

/**
 * The driver the durable tests run on: real Postgres when TEST_DATABASE_URL is set (a new
 * database there takes about a second, PGlite tens of seconds on a busy machine), else PGlite.
 */
export const DURABLE_DRIVER: TestDriver = TEST_DRIVERS.includes("pg") ? "pg" : "pglite";

export function createDurableDatabase(): Promise<TestDatabase> {
  return createTestDatabase(DURABLE_DRIVER);
}

/** An EventSender (the last parameter of the lib functions) that only records what it is given. */
export function recordingSender(): {
  send: EventSender;
  events: OutgoingEvent[];
  named<N extends EventName>(name: N): Extract<OutgoingEvent, { name: N }>[];
} {
  const events: OutgoingEvent[] = [];
  return {
    events,
    send: async (batch) => {
      events.push(...batch.map((event) => structuredClone(event)));
    },
    named: <N extends EventName>(name: N) => events.filter((event): event is Extract<OutgoingEvent, { name: N }> => event.name === name),
  };
}

/**
 * Verifies one Standard Webhooks request with the reference library as a receiver would at
 * `at` (epoch ms; the library reads Date.now() for its 5-minute tolerance). Throws if it fails.
 */
export function verifyStandardWebhook(
  secret: string,
  body: string,
  headers: Record<string, string | string[] | undefined>,
  at: number,
): Record<string, unknown> {
  const flat = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : (value ?? "")]),
  );
  const realNow = Date.now;
  Date.now = () => at;
  try {
    return new Webhook(secret).verify(body, flat) as Record<string, unknown>;
  } finally {
    Date.now = realNow;
  }
}

export interface ScriptedServer {
  url: string;
  requests: { method: string; url: string; headers: IncomingMessage["headers"]; body: string }[];
  close(): Promise<void>;
}

/**
 * A plain local HTTP server whose handler decides each answer, including never answering
 * (return "hang"), for the redirect and timeout cases the receiver helper cannot script.
 */
export async function startScriptedServer(
  handler: (index: number, request: IncomingMessage, response: ServerResponse) => "hang" | void,
): Promise<ScriptedServer> {
  const requests: ScriptedServer["requests"] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body });
      if (handler(requests.length - 1, request, response) === "hang") return;
      if (!response.headersSent) response.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Runs one attempt of `fn` for `event` through @inngest/test and returns the errors its steps
 * threw, unserialised: the retry decision Inngest receives (a `RetryAfterError`'s `retryAfter`
 * becomes the `Retry-After` of the SDK's answer) is on these, while the run's output only carries
 * a serialised copy without it.
 */
export async function runCapturingStepErrors(
  fn: InngestFunction.Any,
  event: { id?: string; name: string; data: Record<string, unknown> },
  attempt = 0,
): Promise<{ thrown: (Error & { retryAfter?: string })[]; error?: unknown; result?: unknown }> {
  const thrown: (Error & { retryAfter?: string })[] = [];
  const engine = new InngestTestEngine({
    function: fn,
    events: [{ ...event, id: event.id ?? `capture-${Date.now()}` } as never],
    transformCtx: (raw) => {
      const ctx = mockCtx(raw) as typeof raw & { attempt: number };
      ctx.attempt = attempt;
      const run = ctx.step.run as (id: string, work: () => Promise<unknown>) => Promise<unknown>;
      (ctx.step as { run: unknown }).run = (id: string, work: () => Promise<unknown>) =>
        run(id, async () => {
          try {
            return await work();
          } catch (error) {
            thrown.push(error as Error);
            throw error;
          }
        });
      return ctx;
    },
  });
  const output = await engine.execute();
  return { thrown, ...("error" in output && output.error ? { error: output.error } : { result: output.result }) };
}

/** Every string in `value` (deeply), for scanning rows and events for secrets. */
export function containsAny(value: unknown, needles: string[]): string[] {
  const text = JSON.stringify(value);
  return needles.filter((needle) => text.includes(needle));
}
