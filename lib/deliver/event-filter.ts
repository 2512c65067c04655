import { z } from "zod";
import { OUTCOME_EVENT_TYPES, SUBSCRIBABLE_EVENT_TYPES, type SubscribableEventType } from "./unified-event";

/**
 * Which event types a subscription receives (its `events` filter). The filter in force is the
 * subscription's own, else its endpoint's default filter, else every outcome (the four outcomes,
 * in each kind's spelling: `batch.completed`, `response.failed`, …). A subscription that joined a
 * job group without a filter of its own also receives `group.settled`. Notices
 * (`batch.stalled`, `batch.resumed`, `group.settled`) are only ever sent to those who opt in.
 *
 * The rule is applied in SQL where deliveries are created ({@link effectiveEventsSql}), so a
 * filtered-out subscriber is never mistaken for one still owed a delivery; {@link effectiveEvents}
 * is the same rule for what the API and the dashboard show.
 */

export const DEFAULT_EVENT_FILTER: readonly SubscribableEventType[] = OUTCOME_EVENT_TYPES;

/** A filter as the API takes it: known event types, at least one; duplicates are dropped. */
export const eventFilterSchema = z
  .array(z.enum(SUBSCRIBABLE_EVENT_TYPES, { message: `must be one of ${SUBSCRIBABLE_EVENT_TYPES.join(", ")}` }))
  .min(1, "name at least one event type")
  .max(SUBSCRIBABLE_EVENT_TYPES.length * 2)
  .transform((types) => [...new Set(types)]);

/** The filter in force for a subscription (see the module comment). */
export function effectiveEvents(subscription: {
  events: readonly string[] | null;
  endpointEvents?: readonly string[] | null;
  group: string | null;
}): SubscribableEventType[] {
  if (subscription.events) return [...subscription.events] as SubscribableEventType[];
  const base = (subscription.endpointEvents ?? DEFAULT_EVENT_FILTER) as readonly SubscribableEventType[];
  return subscription.group !== null && !base.includes("group.settled") ? [...base, "group.settled"] : [...base];
}

const DEFAULT_SQL = `ARRAY[${DEFAULT_EVENT_FILTER.map((type) => `'${type}'`).join(", ")}]::text[]`;

/**
 * The filter in force as SQL over a subscription (alias `s`), the same rule as
 * {@link effectiveEvents}. Its endpoint's default is a subquery, not a join, so the caller's scan
 * (and its order) stays as it was.
 */
export function effectiveEventsSql(s = "s"): string {
  const endpointEvents = `(SELECT events FROM endpoints WHERE id = ${s}.endpoint_id)`;
  return `COALESCE(${s}.events, COALESCE(${endpointEvents}, ${DEFAULT_SQL})
    || CASE WHEN ${s}.group_key IS NULL THEN ARRAY[]::text[] ELSE ARRAY['group.settled']::text[] END)`;
}
