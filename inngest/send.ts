import { Agent, type Dispatcher, request } from "undici";
import type { EventSender } from "@/lib/events/outbox";
import { inngest } from "./client";

/**
 * Sends events built by `lib/events/definitions.ts` to Inngest's event API (`POST <event base
 * URL>/e/<event key>`, a JSON array). Routes, server actions and Inngest functions hand it to the
 * `lib/` functions that emit events.
 *
 * It does what `inngest.send` does, with undici and without its per-send costs: the SDK goes
 * through the global fetch, which Next patches (tracing, caching bookkeeping), builds its
 * middleware anew and copies the whole environment for its headers (~0.1 ms) on every call. Here
 * the target (URL, key, headers) is resolved once, from the same client, and every send is one
 * request on a kept-alive connection.
 */

const SEND_TIMEOUT_MS = 5_000;
/** Inngest's dev server and Cloud accept this key in dev mode, as the SDK sends it. */
const DEV_EVENT_KEY = "NO_EVENT_KEY_SET";

interface EventApiTarget {
  url: string;
  headers: Record<string, string>;
}

let target: EventApiTarget | undefined;
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 8, connect: { timeout: SEND_TIMEOUT_MS } });

function resolveTarget(): EventApiTarget {
  if (inngest.mode === "cloud" && !inngest.eventKey) {
    throw new Error("INNGEST_EVENT_KEY is not set: Inngest Cloud needs it to receive events (or set INNGEST_DEV=1 for a dev server)");
  }
  const url = new URL(`e/${encodeURIComponent(inngest.eventKey ?? DEV_EVENT_KEY)}`, inngest.eventBaseUrl);
  // The SDK's own headers (content type, SDK version, INNGEST_ENV's branch environment, platform).
  return { url: url.href, headers: inngest.headers };
}

/**
 * Forgets the resolved target, so the next send reads the environment again. Only for tests that
 * point INNGEST_BASE_URL at a new stand-in; a server reads it once.
 */
export function resetEventApiTarget(): void {
  target = undefined;
}

/**
 * One request carrying `events`; throws unless Inngest answers that it took them all. A request
 * that fails before any answer (a kept-alive connection the server closed just then) is made once
 * more on a fresh connection: events carry their ids, so a repeat is dropped by Inngest.
 */
export const sendEvents: EventSender = async (events) => {
  if (events.length === 0) return;
  target ??= resolveTarget();
  const ts = Date.now();
  const body = JSON.stringify(events.map(({ id, name, data }) => ({ id, name, data, ts })));
  let response: Dispatcher.ResponseData;
  try {
    response = await post(target, body);
  } catch {
    response = await post(target, body);
  }
  const text = await response.body.text();
  let answer: { status?: unknown; error?: unknown } | undefined;
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    answer = undefined;
  }
  if (response.statusCode !== 200 || answer?.status !== 200 || answer.error) {
    throw new Error(`the Inngest event API answered ${response.statusCode}: ${text.slice(0, 200)}`);
  }
};

function post(to: EventApiTarget, body: string): Promise<Dispatcher.ResponseData> {
  return request(to.url, {
    method: "POST",
    headers: to.headers,
    body,
    dispatcher: agent,
    headersTimeout: SEND_TIMEOUT_MS,
    bodyTimeout: SEND_TIMEOUT_MS,
  });
}
