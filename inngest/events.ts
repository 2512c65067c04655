import { eventType } from "inngest";
import { EVENTS } from "@/lib/events/definitions";

/**
 * The Inngest triggers, one per event in `lib/events/definitions.ts` (names, schemas, ids and
 * builders live there). Inngest validates a triggering event against its schema, including the
 * events of runs still in flight after a deploy: schemas only widen.
 */
export const batchTracked = eventType("batch/tracked", { schema: EVENTS["batch/tracked"] });
export const watchRequested = eventType("batch/watch.requested", { schema: EVENTS["batch/watch.requested"] });
export const signalReceived = eventType("batch/signal.received", { schema: EVENTS["batch/signal.received"] });
export const batchSettled = eventType("batch/settled", { schema: EVENTS["batch/settled"] });
export const deliveryRequested = eventType("delivery/requested", { schema: EVENTS["delivery/requested"] });
