import { nowDate } from "@/lib/clock";
import type { Database, Queryable } from "@/lib/db";
import type { OutgoingEvent } from "./definitions";

/**
 * Events are written to the outbox in the same transaction as the state they announce, then sent
 * at least once: right away by whoever wrote them (routes that take something in: just after their
 * answer, see dispatch.ts), and again by the reconciler if that failed.
 * Each carries a stable id: Inngest stores every copy it receives, but starts at most one run per
 * function and event id within 24 h, so a repeat triggers nothing.
 */

const SEND_SLICE = 100;

/**
 * Sends events to Inngest. `lib/` never imports the Inngest client: whoever calls into `lib/`
 * (a route, an Inngest function, a test) passes the sender, usually `sendEvents` from `inngest/send.ts`.
 */
export type EventSender = (events: OutgoingEvent[]) => Promise<void>;

/** Writes the events to the outbox in one statement, however many (a recovery queues hundreds). */
export async function enqueueEvents(tx: Queryable, events: OutgoingEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO outbox (event_id, name, data, created_at)
     SELECT event ->> 'id', event ->> 'name', event -> 'data', $2 FROM jsonb_array_elements($1::jsonb) AS event
     ON CONFLICT (event_id) DO NOTHING`,
    [JSON.stringify(events.map((event) => ({ id: event.id, name: event.name, data: event.data }))), nowDate()],
  );
}

/** Sends the given unsent outbox entries and marks them sent. Throws if sending fails (they stay unsent). */
export async function flushOutbox(db: Database, eventIds: string[], send: EventSender) {
  if (eventIds.length === 0) return 0;
  const rows = await db.query<{ event_id: string; name: string; data: Record<string, unknown> }>(
    "SELECT event_id, name, data FROM outbox WHERE event_id = ANY($1::text[]) AND sent_at IS NULL ORDER BY created_at",
    [eventIds],
  );
  return sendRows(db, rows, send);
}

/** Re-sends entries that were written but not marked sent for a while (a crash between steps). */
export async function flushStaleOutbox(db: Database, olderThan: Date, send: EventSender) {
  const rows = await db.query<{ event_id: string; name: string; data: Record<string, unknown> }>(
    "SELECT event_id, name, data FROM outbox WHERE sent_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT 500",
    [olderThan],
  );
  return sendRows(db, rows, send);
}

async function sendRows(
  db: Database,
  rows: { event_id: string; name: string; data: Record<string, unknown> }[],
  send: EventSender,
): Promise<number> {
  // Inngest limits how many events one request may carry; send in slices, marking each as it lands.
  for (let start = 0; start < rows.length; start += SEND_SLICE) {
    const slice = rows.slice(start, start + SEND_SLICE);
    // Every entry was built, and so validated, by lib/events/definitions.ts before it was written.
    await send(slice.map((row) => ({ id: row.event_id, name: row.name, data: row.data }) as OutgoingEvent));
    await db.query("UPDATE outbox SET sent_at = $2 WHERE event_id = ANY($1::text[])", [
      slice.map((row) => row.event_id),
      nowDate(),
    ]);
  }
  return rows.length;
}
