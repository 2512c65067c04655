import type { DeliveryAttemptView, DeliveryView, JobDetail, SubscriptionDestination } from "@/lib/jobs/queries";
import { displayUrl, durationText, humanize, type Tone, utcTime } from "./format";

/**
 * One chronological story of a job: its own events (tracked, subscribed, watch started, polls,
 * poll errors, native signals, settled), the deliveries its settlement created, and every
 * delivery attempt with its status code, duration and error.
 */
export interface TimelineEntry {
  at: string;
  kind: "event" | "delivery" | "attempt";
  title: string;
  /** Secondary facts, each shown on its own line. */
  facts: string[];
  tone: Tone;
  /** The delivery this entry belongs to, to link it to its card on the page. */
  deliveryId?: string;
}

export function buildTimeline(
  detail: Pick<JobDetail, "events" | "deliveries" | "subscriptions">,
  endpointNames: Record<string, string> = {},
): TimelineEntry[] {
  // Job events keep the order they were recorded in (their ids), which is the true order even
  // when the processes that wrote them disagree a little about the time.
  const events = detail.events.map((event) => eventEntry(event.at, event.type, event.detail, endpointNames));
  const deliveryEntries: TimelineEntry[] = [];
  for (const delivery of detail.deliveries) {
    const destination = deliveryDestination(delivery, detail.subscriptions, endpointNames);
    deliveryEntries.push({
      at: delivery.createdAt,
      kind: "delivery",
      title: `Delivery created: ${delivery.eventType}`,
      facts: [`to ${destination}`, `delivery ${delivery.id}`],
      tone: "neutral",
      deliveryId: delivery.id,
    });
    for (const group of groupedAttempts(delivery.attempts)) {
      const { attempt } = group;
      const succeeded = attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300 && !attempt.error;
      const answer = attempt.statusCode === null ? "no response" : `HTTP ${attempt.statusCode}`;
      const repeated = group.count > 1;
      deliveryEntries.push({
        at: group.firstAt,
        kind: "attempt",
        title: repeated ? `Attempts ${group.first}–${group.last}: ${answer}` : `Attempt ${group.first}: ${answer}`,
        facts: [
          repeated
            ? `${group.count} attempts over ${durationText(Date.parse(group.lastAt) - Date.parse(group.firstAt))}, the same answer each time`
            : `took ${attempt.durationMs} ms`,
          ...(attempt.error ? [`error: ${attempt.error}`] : []),
          ...(group.newRun ? ["new run (a resend or a replay)"] : []),
          `delivery ${delivery.id}`,
        ],
        tone: succeeded ? "ok" : "bad",
        deliveryId: delivery.id,
      });
    }
  }
  // Stable sort: a delivery's creation stays before its attempts at the same instant.
  const sortedDeliveries = deliveryEntries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => Date.parse(a.entry.at) - Date.parse(b.entry.at) || a.index - b.index)
    .map(({ entry }) => entry);
  return mergeByTime(events, sortedDeliveries);
}

/** Merges two time-ordered lists; on a tie the job event comes first (a settlement precedes its deliveries). */
function mergeByTime(events: TimelineEntry[], deliveries: TimelineEntry[]): TimelineEntry[] {
  const merged: TimelineEntry[] = [];
  let next = 0;
  for (const event of events) {
    while (next < deliveries.length && Date.parse(deliveries[next]!.at) < Date.parse(event.at)) merged.push(deliveries[next++]!);
    merged.push(event);
  }
  return [...merged, ...deliveries.slice(next)];
}

/**
 * A delivery's attempts in time order, numbered 1, 2, 3… across runs. (The stored number restarts
 * in every Inngest run, so a resend would otherwise show a second "attempt 1".)
 */
export function numberedAttempts(
  attempts: readonly DeliveryAttemptView[],
): { attempt: DeliveryAttemptView; number: number; newRun: boolean }[] {
  const ordered = [...attempts].sort(
    (a, b) => Date.parse(a.attemptedAt) - Date.parse(b.attemptedAt) || a.attempt - b.attempt,
  );
  return ordered.map((attempt, index) => ({
    attempt,
    number: index + 1,
    newRun: index > 0 && ordered[index - 1]!.runId !== attempt.runId,
  }));
}

export interface AttemptGroup {
  /** The numbers (from 1, across runs) of its first and last attempt. */
  first: number;
  last: number;
  count: number;
  /** The group's last attempt (they all got the same answer). */
  attempt: DeliveryAttemptView;
  firstAt: string;
  lastAt: string;
  /** Its first attempt started a new run (a resend or a replay). */
  newRun: boolean;
}

/**
 * Attempts in time order, consecutive failed ones with the same answer (status, error and body) in
 * one group, so 19 identical 503s read as one line. A new run (a resend) always starts a new group,
 * and a success is always its own line (a second one is a resend).
 */
export function groupedAttempts(attempts: readonly DeliveryAttemptView[]): AttemptGroup[] {
  const groups: AttemptGroup[] = [];
  for (const { attempt, number, newRun } of numberedAttempts(attempts)) {
    const previous = groups.at(-1);
    const failed = attempt.statusCode === null || attempt.statusCode < 200 || attempt.statusCode >= 300 || attempt.error !== null;
    if (
      previous &&
      failed &&
      !newRun &&
      previous.attempt.statusCode === attempt.statusCode &&
      previous.attempt.error === attempt.error &&
      previous.attempt.responseBody === attempt.responseBody
    ) {
      previous.last = number;
      previous.count += 1;
      previous.attempt = attempt;
      previous.lastAt = attempt.attemptedAt;
      continue;
    }
    groups.push({ first: number, last: number, count: 1, attempt, firstAt: attempt.attemptedAt, lastAt: attempt.attemptedAt, newRun });
  }
  return groups;
}

function eventEntry(
  at: string,
  type: string,
  detail: Record<string, unknown>,
  endpointNames: Record<string, string>,
): TimelineEntry {
  const text = (key: string) => (typeof detail[key] === "string" ? (detail[key] as string) : null);
  const base = { at, kind: "event" as const };
  switch (type) {
    case "tracked":
      return { ...base, title: "Tracked", facts: [], tone: "neutral" };
    case "subscribed":
      return { ...base, title: "Subscriber added", facts: [destinationFromKey(text("destination"), endpointNames)], tone: "neutral" };
    case "watch_started":
      return { ...base, title: "Watch started", facts: [`generation ${String(detail.generation ?? "?")}`], tone: "active" };
    case "polled": {
      const counts = detail.requestCounts as { total?: number; completed?: number; failed?: number } | null | undefined;
      const facts = [`status ${humanize(text("status") ?? "unknown")}${text("providerStatus") ? ` (provider: ${text("providerStatus")})` : ""}`];
      if (counts && typeof counts.total === "number") {
        facts.push(`${counts.completed ?? 0} completed, ${counts.failed ?? 0} failed of ${counts.total}`);
      }
      const nextPollAt = text("nextPollAt");
      if (nextPollAt) facts.push(`next poll in ${durationText(Math.max(0, Date.parse(nextPollAt) - Date.parse(at)))}`);
      return { ...base, title: "Polled", facts, tone: "active" };
    }
    case "poll_error":
      return {
        ...base,
        title: `Poll error: ${humanize(text("code") ?? "unknown")}`,
        facts: text("message") ? [text("message")!] : [],
        tone: "warn",
      };
    case "signal":
      return {
        ...base,
        title: `Native signal: ${text("eventType") ?? "unknown"}`,
        facts: text("confirmedStatus") ? [`confirmed status ${humanize(text("confirmedStatus")!)}`] : [],
        tone: "active",
      };
    case "settled": {
      const outcome = text("outcome") ?? "settled";
      const facts = [`by ${text("by") ?? "unknown"}`];
      if (text("reason")) facts.push(`reason: ${humanize(text("reason")!)}`);
      if (text("message")) facts.push(text("message")!);
      return { ...base, title: `Settled: ${humanize(outcome)}`, facts, tone: outcome === "completed" ? "ok" : outcome === "cancelled" ? "warn" : "bad" };
    }
    case "stalled":
    case "resumed":
      return {
        ...base,
        title: type === "stalled" ? `Stalled: ${humanize(text("kind") ?? "no progress")}` : "Moving again",
        facts: text("since") ? [`stuck since ${utcTime(text("since")!)} (stall ${String(detail.number ?? "?")})`] : [],
        tone: type === "stalled" ? "warn" : "active",
      };
    default:
      return { ...base, title: humanize(type), facts: [], tone: "neutral" };
  }
}

/** Subscription destination keys are `url:<url>` or `endpoint:<id>`. */
function destinationFromKey(key: string | null, endpointNames: Record<string, string>): string {
  if (!key) return "unknown destination";
  if (key.startsWith("url:")) return displayUrl(key.slice(4));
  if (key.startsWith("endpoint:")) return `endpoint ${endpointNames[key.slice(9)] ?? key.slice(9)}`;
  return key;
}

export function destinationLabel(destination: SubscriptionDestination): string {
  return destination.type === "url" ? displayUrl(destination.url) : `endpoint ${destination.endpointName ?? destination.endpointId}`;
}

export function deliveryDestination(
  delivery: Pick<DeliveryView, "subscriptionId" | "endpointId">,
  subscriptions: JobDetail["subscriptions"],
  endpointNames: Record<string, string> = {},
): string {
  const subscription = subscriptions.find((each) => each.id === delivery.subscriptionId);
  if (subscription) return destinationLabel(subscription.destination);
  if (delivery.endpointId) return `endpoint ${endpointNames[delivery.endpointId] ?? delivery.endpointId}`;
  return "unknown destination";
}
