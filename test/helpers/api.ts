import { afterAll, afterEach, beforeAll } from "vitest";
import { setDb } from "@/lib/db";
import type { Database } from "@/lib/db";
import { createTestDatabase, type TestDatabase } from "./db";
import { startEventApiStandIn, type EventApiStandIn } from "./event-api";

/**
 * Route handlers are called in-process as plain functions, with `new Request(...)`, against a
 * fresh PGlite database installed with setDb() and a stand-in Inngest event API.
 */

export const API_KEY = "test-api-key";
export const BASE = "http://batchwatch.test";

type Handler = (request: Request, context: { params: Promise<Record<string, string | string[]>> }) => Promise<Response>;

export interface CallOptions {
  /** A JSON-serialisable body, or a raw string sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** The API key to send; null sends no Authorization header. Defaults to the valid key. */
  key?: string | null;
  params?: Record<string, string | string[]>;
}

export function makeRequest(method: string, path: string, options: CallOptions = {}): Request {
  const headers = new Headers(options.headers);
  const key = options.key === undefined ? API_KEY : options.key;
  if (key !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return new Request(`${BASE}${path}`, { method, headers, body });
}

/** Calls a route handler the way Next does: the request, and params as a promise. */
export async function call(handler: unknown, method: string, path: string, options: CallOptions = {}) {
  const response = await (handler as Handler)(makeRequest(method, path, options), {
    params: Promise.resolve(options.params ?? {}),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export interface ApiHarness {
  db: Database;
  events: EventApiStandIn;
}

/** Installs a fresh database and event API for the test file; tables are emptied after each test. */
export function useApiHarness(): ApiHarness {
  const harness = {} as ApiHarness & { testDb: TestDatabase };
  beforeAll(async () => {
    harness.testDb = await createTestDatabase("pglite");
    harness.db = harness.testDb.db;
    setDb(harness.db);
    harness.events = await startEventApiStandIn();
    // Starting PGlite (WASM) and migrating takes seconds, and far longer on a busy machine.
  }, 180_000);
  afterEach(async () => {
    harness.events.events.length = 0;
    // DELETE rather than TRUNCATE: on PGlite it is many times faster for a handful of rows.
    await harness.db.exec(
      "DELETE FROM delivery_attempts; DELETE FROM deliveries; DELETE FROM subscriptions; DELETE FROM job_events; " +
        "DELETE FROM jobs; DELETE FROM endpoints; DELETE FROM inbound_events; DELETE FROM outbox; DELETE FROM job_groups; " +
        "DELETE FROM auth_failures; DELETE FROM sessions;",
    );
  });
  afterAll(async () => {
    await harness.events?.close();
    setDb(undefined);
    await harness.testDb?.drop();
  });
  return harness;
}

/** Polls `check` until it holds (for work that happens after a response, such as event sends). */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
