import type { EventSender } from "@/lib/events/outbox";
import { inngest } from "./client";

/**
 * Sends events built by `lib/events/definitions.ts` through the Inngest client. Routes, server
 * actions and Inngest functions hand it to the `lib/` functions that emit events.
 */
export const sendEvents: EventSender = async (events) => {
  if (events.length === 0) return;
  await inngest.send(events.map(({ id, name, data }) => ({ id, name, data })));
};
