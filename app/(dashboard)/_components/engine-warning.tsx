import type { EngineHealth } from "@/lib/dashboard/engine-health";
import { relativeTime } from "@/lib/dashboard/format";

const plural = (count: number, one: string, many: string) => `${count.toLocaleString("en-US")} ${count === 1 ? one : many}`;

/**
 * A warning when the engine looks stalled: what is late, by how much, and what to check. It is
 * not a live region (the page may refresh itself every few seconds): it is read where it stands.
 */
export function EngineWarning({ health, now }: { health: EngineHealth; now: number }) {
  if (!health.stalled) return null;
  const { overduePolls, unsentEvents, overdueDeliveries } = health;
  return (
    <section className="notice notice-warn engine-warning" aria-labelledby="engine-warning-heading">
      <h2 id="engine-warning-heading">Work is waiting on the engine</h2>
      <ul>
        {overduePolls.count > 0 ? (
          <li>
            {plural(overduePolls.count, "batch's poll is", "batches' polls are")} overdue (the oldest was due{" "}
            {relativeTime(overduePolls.oldestDueAt!, now)}).
          </li>
        ) : null}
        {unsentEvents.count > 0 ? (
          <li>
            {plural(unsentEvents.count, "event is", "events are")} queued but not yet sent to Inngest (the oldest since{" "}
            {relativeTime(unsentEvents.oldestAt!, now).replace(/ ago$/, "")}): they are sent when Inngest is reachable.
          </li>
        ) : null}
        {overdueDeliveries.count > 0 ? (
          <li>
            {plural(overdueDeliveries.count, "delivery attempt is", "delivery attempts are")} overdue (the oldest was due{" "}
            {relativeTime(overdueDeliveries.oldestDueAt!, now)}).
          </li>
        ) : null}
      </ul>
      <p>
        <strong>What to check:</strong> that Inngest is running (locally, <code>npm run dev</code> starts its dev
        server) and can reach this app at <code>/api/inngest</code>; in production, that <code>INNGEST_EVENT_KEY</code>{" "}
        and <code>INNGEST_SIGNING_KEY</code> are set and the app is synced in Inngest&apos;s dashboard. Nothing is lost:
        queued work is sent, and the reconciler revives watchers, once Inngest runs again.
      </p>
    </section>
  );
}
