import { after } from "next/server";
import { nowDate } from "@/lib/clock";
import type { Database } from "@/lib/db";
import type { OutgoingEvent } from "./definitions";
import type { EventSender } from "./outbox";

/**
 * Sending outbox events after the answer, in batches. A route that took something in (a provider
 * webhook, a tracking request) has already committed its events to the outbox with the state
 * they announce, so the answer never waits on Inngest: the events go out after the response, and
 * the requests of one process that arrive together share one send and one "sent" update. A send
 * that fails loses nothing: the events stay unsent in the outbox, this process tries them again
 * with backoff, and the reconciler sends whatever is still unsent after a few minutes.
 */

/** Inngest takes at most this many events in one request here (as the outbox's own flush). */
const MAX_BATCH = 100;
/** Waits before trying held events again after a failed send, growing with each failure. */
const RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000] as const;
/** Held events beyond this are left to the reconciler alone (they are in the outbox). */
const MAX_HELD = 10_000;

export interface OutboxDispatcher {
  /**
   * Queues events already committed to the outbox. Resolves when the send that carried them ended
   * — sent and marked sent, or failed and held for a retry — and never rejects.
   */
  dispatch(db: Database, events: readonly OutgoingEvent[], send: EventSender): Promise<void>;
  /** Resolves when nothing is queued or being sent (held events waiting for a retry aside). */
  idle(): Promise<void>;
  /** Events held after a failed send, waiting for the next try. */
  held(): number;
}

interface Ticket {
  pending: number;
  done(): void;
}

interface Item {
  db: Database;
  send: EventSender;
  event: OutgoingEvent;
  ticket?: Ticket;
  /** Held after a failed send: by the time it is retried, the reconciler may have sent it. */
  retry?: true;
}

export function createOutboxDispatcher(
  options: { log?: (message: string) => void; retryDelaysMs?: readonly number[] } = {},
): OutboxDispatcher {
  const log = options.log ?? ((message: string) => console.error(`[batchwatch] ${message}`));
  const retryDelays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  let queue: Item[] = [];
  let held: Item[] = [];
  let draining = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  const idleWaiters: (() => void)[] = [];

  const finish = (items: readonly Item[]) => {
    for (const item of items) {
      if (item.ticket && --item.ticket.pending === 0) item.ticket.done();
    }
  };

  const hold = (items: readonly Item[]) => {
    held.push(...items.map(({ db, send, event }) => ({ db, send, event, retry: true as const })));
    if (held.length > MAX_HELD) {
      const dropped = held.length - MAX_HELD;
      held = held.slice(dropped);
      log(`${dropped} unsent events are left to the reconciler (more than ${MAX_HELD} held in memory); none is lost`);
    }
    if (retryTimer) return;
    const delay = retryDelays[Math.min(failures, retryDelays.length) - 1] ?? retryDelays[0] ?? RETRY_DELAYS_MS[0];
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      queue.push(...held);
      held = [];
      kick();
    }, delay);
    retryTimer.unref?.();
  };

  /** The next batch: the oldest queued events of one database and sender, at most MAX_BATCH. */
  const takeBatch = (): Item[] => {
    const { db, send } = queue[0]!;
    const batch: Item[] = [];
    const rest: Item[] = [];
    for (const item of queue) (item.db === db && item.send === send && batch.length < MAX_BATCH ? batch : rest).push(item);
    queue = rest;
    return batch;
  };

  /**
   * A retried batch without the events sent meanwhile (by the reconciler, after a long outage):
   * each event goes to Inngest once, not once per path that holds it. If the outbox cannot be read
   * the batch is sent as it is (Inngest drops repeats by id).
   */
  const stillUnsent = async (batch: Item[]): Promise<Item[]> => {
    if (!batch.some((item) => item.retry)) return batch;
    try {
      const rows = await batch[0]!.db.query<{ event_id: string }>(
        "SELECT event_id FROM outbox WHERE event_id = ANY($1::text[]) AND sent_at IS NULL",
        [batch.map((item) => item.event.id)],
      );
      const unsent = new Set(rows.map((row) => row.event_id));
      return batch.filter((item) => unsent.has(item.event.id));
    } catch {
      return batch;
    }
  };

  const attempt = async (queued: Item[]) => {
    const batch = await stillUnsent(queued);
    if (batch.length === 0) return;
    const ids = batch.map((item) => item.event.id);
    try {
      await batch[0]!.send(batch.map((item) => item.event));
    } catch (error) {
      failures += 1;
      if (failures === 1) {
        log(`sending ${ids.length} events to Inngest failed (they stay in the outbox and are retried): ${describe(error)}`);
      }
      hold(batch);
      return;
    }
    if (failures > 0) {
      log(`sending to Inngest works again after ${failures} failed sends`);
      failures = 0;
    }
    try {
      await batch[0]!.db.query("UPDATE outbox SET sent_at = $2 WHERE event_id = ANY($1::text[]) AND sent_at IS NULL", [ids, nowDate()]);
    } catch (error) {
      // Sent but not marked: the reconciler sends them again, and Inngest starts no second run for a repeated id.
      log(`${ids.length} events were sent but could not be marked sent: ${describe(error)}`);
    }
  };

  const drain = async () => {
    try {
      while (queue.length > 0) {
        // While a retry is pending Inngest was just unreachable: hold new events for it rather
        // than spend a failing request on each answer.
        if (retryTimer) {
          const waiting = queue;
          queue = [];
          hold(waiting);
          finish(waiting);
          continue;
        }
        const batch = takeBatch();
        await attempt(batch);
        finish(batch);
      }
    } finally {
      draining = false;
      if (queue.length > 0) kick();
      else for (const resolve of idleWaiters.splice(0)) resolve();
    }
  };

  function kick() {
    if (draining) return;
    draining = true;
    // Everything queued in this turn of the event loop (concurrent requests) goes in one send.
    setImmediate(() => void drain());
  }

  return {
    dispatch(db, events, send) {
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const ticket: Ticket = { pending: events.length, done: resolve };
        for (const event of events) queue.push({ db, send, event, ticket });
        kick();
      });
    },
    idle() {
      if (!draining && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    held: () => held.length,
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// One per process, on globalThis: Next bundles routes separately, and requests of every route
// should share the batches.
const shared = globalThis as typeof globalThis & { __batchwatchDispatcher?: OutboxDispatcher };

export function outboxDispatcher(): OutboxDispatcher {
  shared.__batchwatchDispatcher ??= createOutboxDispatcher();
  return shared.__batchwatchDispatcher;
}

/**
 * Replaces this process's dispatcher (tests: a process that restarts loses what its dispatcher
 * held in memory); with no argument the next send creates a fresh one.
 */
export function setOutboxDispatcher(dispatcher?: OutboxDispatcher): void {
  shared.__batchwatchDispatcher = dispatcher;
}

/**
 * Sends events (already in the outbox) through `send` once the response is out: inside a request
 * with Next's `after()`, which keeps a serverless function alive until the send has ended; outside
 * one (scripts, tests calling a handler directly) there is no "after the response", so it sends
 * now and returns when the send has ended. Never throws: an unsent event waits in the outbox.
 */
export async function sendAfterResponse(db: Database, events: readonly OutgoingEvent[], send: EventSender): Promise<void> {
  if (events.length === 0) return;
  const task = () => outboxDispatcher().dispatch(db, events, send);
  try {
    after(task);
    return;
  } catch {
    // `after` was called outside a request scope.
  }
  await task();
}
