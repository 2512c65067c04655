import { DEFAULT_EVENT_FILTER } from "@/lib/deliver/event-filter";
import type { EtaView, JobView } from "@/lib/jobs/queries";
import type { OutcomeResults } from "@/lib/settle/outcome-results";
import type { EtaGap } from "@/lib/watch/eta";
import type { ProviderName, RequestCounts } from "@/lib/providers/types";

/**
 * Pure presentation helpers shared by the dashboard pages (no database, no secrets), so the pages
 * stay declarative and these rules are tested once.
 */

/** The dashboard path of a job. Gemini ids contain a slash (`batches/123`) and keep it as path segments. */
export function batchHref(provider: ProviderName | string, batchId: string, kind?: string): string {
  const path = `/batches/${encodeURIComponent(provider)}/${batchId.split("/").map(encodeURIComponent).join("/")}`;
  // The same id can in principle be tracked as two kinds; batch is the default the page picks.
  return kind && kind !== "batch" ? `${path}?kind=${encodeURIComponent(kind)}` : path;
}

/**
 * Joins the catch-all segments back into the provider's id. A page's params arrive still
 * percent-encoded (`batch%20with%20space`), unlike a route handler's: each segment is decoded here,
 * so the page finds the ids the API finds; one that does not decode (`%ff`) is kept as it came,
 * and matches no batch.
 */
export function batchIdFromSegments(segments: readonly string[]): string {
  return segments
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}

export interface ProgressBreakdown {
  total: number;
  completed: number;
  failed: number;
  remaining: number;
  /** Shares of the bar, 0–100, for completed, failed and remaining. */
  percent: { completed: number; failed: number; remaining: number };
  /** The sentence a screen reader hears instead of the coloured bar. */
  description: string;
  /** Completed and failed over the total, rounded down to 0.1 so 48,190 of 48,213 is not "100%". */
  processedPercent: number;
}

/** Completed / failed / remaining from a job's request counts; null when the provider reports none. */
export function progressBreakdown(counts: RequestCounts | null, settled: boolean): ProgressBreakdown | null {
  if (!counts || !Number.isFinite(counts.total) || counts.total <= 0) return null;
  const total = counts.total;
  const completed = clamp(counts.completed, 0, total);
  const failed = clamp(counts.failed, 0, total - completed);
  const remaining = total - completed - failed;
  const share = (value: number) => Math.round((value / total) * 1000) / 10;
  const remainingWord = settled ? "not processed" : "remaining";
  return {
    total,
    completed,
    failed,
    remaining,
    percent: { completed: share(completed), failed: share(failed), remaining: share(remaining) },
    description: `${count(completed)} of ${count(total)} requests completed, ${count(failed)} failed, ${count(remaining)} ${remainingWord}`,
    processedPercent: Math.floor(((completed + failed) / total) * 1000) / 10,
  };
}

/** A count with thousands separators: 48,213; `10,000+` when it stopped at a cap. */
export function count(value: number, capped = false): string {
  return `${value.toLocaleString("en-US")}${capped ? "+" : ""}`;
}

function clamp(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(Math.max(value, min), max);
}

export type Tone = "ok" | "bad" | "warn" | "neutral" | "active";

/** The colour family of a job status or outcome, so badges mean the same thing on every page. */
export function statusTone(status: string): Tone {
  switch (status) {
    case "completed":
    case "delivered":
      return "ok";
    case "failed":
    case "expired":
      return "bad";
    case "cancelled":
    case "cancelling":
    case "disabled":
      return "warn";
    case "in_progress":
    case "finalizing":
    case "validating":
    case "pending":
      return "active";
    default:
      return "neutral";
  }
}

/** "in_progress" → "in progress": readable without losing the API's vocabulary. */
export function humanize(word: string): string {
  return word.replaceAll("_", " ");
}

/** "3 min ago", "in 20 s": relative to `now`, coarse enough to read at a glance. */
export function relativeTime(iso: string, now: number): string {
  const diffMs = Date.parse(iso) - now;
  const magnitude = Math.abs(diffMs);
  if (magnitude < 5_000) return "just now";
  const text = durationText(magnitude);
  return diffMs < 0 ? `${text} ago` : `in ${text}`;
}

/** A duration as the largest sensible unit: 42 s, 7 min, 3 h, 2 d. */
export function durationText(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} d`;
}

/** An absolute time in UTC, to the second: the same for every viewer and in every screenshot. */
export function utcTime(iso: string): string {
  return `${iso.slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * An absolute time in the viewer's zone, to the second, with the zone's offset: "2026-11-23
 * 13:00:00 UTC+1". `offsetMinutes` is east of UTC (the negated `Date#getTimezoneOffset`).
 */
export function localTime(iso: string, offsetMinutes: number): string {
  const shifted = new Date(Date.parse(iso) + offsetMinutes * 60_000).toISOString();
  const sign = offsetMinutes < 0 ? "-" : "+";
  const hours = Math.floor(Math.abs(offsetMinutes) / 60);
  const minutes = Math.abs(offsetMinutes) % 60;
  const zone = offsetMinutes === 0 ? "UTC" : `UTC${sign}${hours}${minutes ? `:${String(minutes).padStart(2, "0")}` : ""}`;
  return `${shifted.slice(0, 19).replace("T", " ")} ${zone}`;
}

/** A poll this late is overdue: the engine is not running it (a poll itself takes seconds). */
export const POLL_OVERDUE_GRACE_MS = 2 * 60_000;

/** What the "next poll / settled" column says about a job. */
export function watchSummary(job: Pick<JobView, "settledAt" | "outcome" | "settleReason" | "nextPollAt" | "pollCount">, now: number): string {
  if (job.settledAt) {
    const outcome = humanize(job.outcome ?? "settled");
    return job.settleReason ? `${outcome}: ${humanize(job.settleReason)}` : outcome;
  }
  if (job.nextPollAt) {
    const late = now - Date.parse(job.nextPollAt);
    if (late > POLL_OVERDUE_GRACE_MS) return `poll overdue by ${durationText(late)}`;
    return late > 0 ? "polling now" : `next poll ${relativeTime(job.nextPollAt, now)}`;
  }
  return job.pollCount === 0 ? "waiting for the first poll" : "watching";
}

/**
 * The batches list's timing column, without repeating the status: how long a settled job ran
 * (and a settle reason the status does not say), or when a running one is polled next.
 */
export function timingSummary(
  job: Pick<JobView, "settledAt" | "outcome" | "settleReason" | "nextPollAt" | "pollCount" | "trackedAt" | "providerCreatedAt">,
  now: number,
): { text: string; overdue: boolean } {
  if (job.settledAt) {
    const started = Math.min(Date.parse(job.trackedAt), job.providerCreatedAt ? Date.parse(job.providerCreatedAt) : Infinity);
    const ran = `ran ${durationText(Math.max(0, Date.parse(job.settledAt) - started))}`;
    return { text: job.settleReason ? `${ran} · ${humanize(job.settleReason)}` : ran, overdue: false };
  }
  const text = watchSummary(job, now);
  return { text, overdue: text.startsWith("poll overdue") };
}

/** Polls made, counting the one that settled the job (it settles instead of recording a poll). */
export function pollsMade(job: Pick<JobView, "pollCount" | "settledBy">): number {
  return job.pollCount + (job.settledBy === "poll" ? 1 : 0);
}

/**
 * A webhook URL as the dashboard shows it: query strings often carry tokens, so they are elided
 * (the full URL stays available through the API).
 */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const query = parsed.search ? "?…" : "";
    return `${parsed.origin}${parsed.pathname}${query}`;
  } catch {
    return url;
  }
}

/** Pretty JSON for a `<pre>` block. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** `path?a=1&b=2` from page search params, dropping empty values (for links and `next=`). */
export function pathWithQuery(path: string, params: Record<string, string | string[] | undefined | null>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const each of [value].flat()) if (each) query.append(name, each);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

const ETA_GAP_TEXT: Record<EtaGap, string> = {
  not_started: "nothing processed yet",
  no_progress_reported: "the provider reports no progress",
  pace_not_established: "progress has not moved steadily for long enough",
  stalled: "progress has stopped moving",
  awaiting_finalizing: "every request is done; waiting for the provider to finalize",
  cancelling: "cancelling",
  overdue: "the predicted range has passed",
};

/**
 * The ETA as the batch page says it: the expected time with its range, or plainly that there is
 * not enough evidence yet (why, and the provider's deadline when known). Null once settled.
 */
export function etaText(eta: EtaView | null, now: number): string | null {
  if (eta === null) return null;
  if (eta.state === "estimated") {
    const range = `between ${utcTime(eta.earliestAt)} and ${utcTime(eta.latestAt)}`;
    const finishing = eta.basis === "finalizing" ? ", finalizing" : "";
    const late = eta.pastDeadline ? " — past the provider's deadline at this pace" : "";
    return `${relativeTime(eta.expectedAt, now)} (${range}${finishing})${late}`;
  }
  const deadline = eta.latestAt ? `; the provider ends it by ${utcTime(eta.latestAt)}` : "";
  return `not enough evidence yet: ${ETA_GAP_TEXT[eta.reason]}${deadline}`;
}

const FILTER_SOURCE_NOTE = { own: "", endpoint: " (the endpoint's default)", default: " (default)" } as const;

/** An event filter as one line: "the four outcomes" for the default set, else the types named; and where it comes from. */
export function eventFilterText(events: readonly string[], source: keyof typeof FILTER_SOURCE_NOTE): string {
  const isDefault =
    events.length >= DEFAULT_EVENT_FILTER.length && DEFAULT_EVENT_FILTER.every((type) => events.includes(type));
  const extra = events.filter((type) => !DEFAULT_EVENT_FILTER.includes(type as never));
  const text = isDefault ? ["the four outcomes", ...extra].join(" + ") : events.join(", ");
  return `${text}${FILTER_SOURCE_NOTE[source]}`;
}

/** What a completed batch's requests came to, as the batch page says it; null when not known. */
export function resultsText(results: OutcomeResults | null): string | null {
  if (!results || results.verdict === "unknown") return null;
  const verdict = humanize(results.verdict);
  if (!results.commonError) return verdict;
  const { code, message, count } = results.commonError;
  return `${verdict}; most common error: ${code ? `${code}: ` : ""}${message} (${count} of ${results.errorsRead} failures read)`;
}
