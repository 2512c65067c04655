/**
 * When to poll a provider's batch next: a pure, deterministic function of what has been seen.
 *
 * The durable watcher polls, appends the observation, calls {@link nextPollDelay} and
 * `step.sleep`s for the result. The schedule is built from a few principles:
 *
 * 1. Scale with age. A batch's phases last in proportion to how long it has already run (a batch
 *    that has run for 6 hours will not finish its last phase in 5 seconds; one created 40 s ago
 *    might fail any second), so when nothing better is known the delay is a fraction of the
 *    batch's age. Young batches are therefore polled every few tens of seconds — the few percent
 *    that fail do so within minutes — and a quiet batch backs off geometrically.
 * 2. Trust progress, cautiously. From request counts (completed + failed over total) or a
 *    `progress` fraction the completion rate is estimated — optimistically, the faster of the
 *    long-run and the latest rate, because polling early costs one poll while polling late costs
 *    detection delay — and the next poll goes halfway to the predicted end, then just after it.
 *    The halving makes the number of polls logarithmic in the remaining time and tolerates rate
 *    errors of up to 2x.
 * 3. Back off while nothing moves: the delay grows with the length of the stall, up to a fraction
 *    of the age and an absolute cap, so a stall that ends in a burst is still caught before the
 *    burst and the finalizing phase are over.
 * 4. The end is near in `finalizing` and `cancelling`: poll briskly (seconds for young batches,
 *    at most every 30 s).
 * 5. Never sleep past `expiresAt` (+ a small margin): by then the batch must be terminal. Past
 *    it, poll briskly until the provider admits it.
 * 6. With `nativeSignals` (a verified provider webhook is live) completion arrives by webhook, so
 *    polling is only a safety net for a lost webhook: the delay doubles from 15 minutes to every
 *    2 hours (30 minutes while finalizing/cancelling), so a lost webhook costs at most ~2 hours
 *    of detection delay at about 1/100 of a 60-second poll's cost over a day.
 *
 * The function is total: any input — empty or unsorted observations, NaN or missing fields,
 * counts with 0 total, progress going backwards, a clock behind the last observation, a
 * creation time in the future — yields a whole number of milliseconds in
 * [{@link MIN_POLL_DELAY_MS}, {@link MAX_POLL_DELAY_MS}].
 */

/** Provider-neutral batch status (mirrors the union in lib/providers/types.ts). */
export type UnifiedStatus =
  | "validating"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "failed"
  | "expired"
  | "cancelling"
  | "cancelled";

export interface PollObservation {
  /** When the poll was made (epoch ms). */
  at: number;
  status: UnifiedStatus;
  requestCounts?: { total: number; completed: number; failed: number } | null;
  /** Fraction done in [0, 1] (a value in (1, 100] is read as a percentage). */
  progress?: number | null;
}

export interface PollHistory {
  /** When batchwatch started watching (epoch ms). */
  trackedAt: number;
  /** The current time (epoch ms). */
  now: number;
  /** A verified provider webhook is live: polling is only a safety net. */
  nativeSignals?: boolean;
  /** The provider's creation time, if known. */
  createdAt?: number;
  /** The provider's deadline: the batch is terminal by then. */
  expiresAt?: number;
  /** Oldest first, newest last. */
  observations: PollObservation[];
}

export const MIN_POLL_DELAY_MS = 1_000;
export const MAX_POLL_DELAY_MS = 21_600_000;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** The policy's knobs (read-only; exported so tests and the benchmark can describe them). */
export const POLLING_POLICY = {
  /** No usable observation at all: look again shortly. */
  emptyHistoryDelayMs: 10 * SECOND,
  /** Shortest wait while validating / in progress (unless landing just after a predicted end). */
  activeFloorMs: 50 * SECOND,
  /** With nothing moving, the wait grows as this fraction of how long nothing has moved… */
  stallGrowth: 0.5,
  /** …up to this fraction of the batch's age, and this absolute cap. */
  idleAgeFraction: 0.07,
  idleCapMs: 60 * MINUTE,
  /** With progress moving, the wait is at most this fraction of the age, and this cap. */
  progressingAgeFraction: 0.25,
  progressingCapMs: 2 * HOUR,
  /** Go this fraction of the way to the earliest predicted end of the run… */
  approachFraction: 0.65,
  /** …until it is this close (or this fraction of the age away), then land just after it. */
  landingWindowMs: 30 * SECOND,
  landingAgeFraction: 0.01,
  /** While finalizing / cancelling: this fraction of the age, within the bounds. */
  briskAgeFraction: 0.1,
  briskMinMs: 5 * SECOND,
  briskMaxMs: 50 * SECOND,
  /** Never sleep beyond expiresAt + this; once past it, poll within the overdue bounds. */
  expiryMarginMs: 30 * SECOND,
  overdueMinMs: 30 * SECOND,
  overdueMaxMs: 15 * MINUTE,
  /** Safety net behind native signals: the age, within these bounds; finalizing / cancelling cap. */
  nativeMinMs: 15 * MINUTE,
  nativeMaxMs: 2 * HOUR,
  nativeBriskMs: 30 * MINUTE,
} as const;

const P = POLLING_POLICY;

function isTerminal(status: string): boolean {
  return status === "completed" || status === "failed" || status === "expired" || status === "cancelled";
}

function finite(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** A validated observation: its time, status, progress in [0, 1] (or null) and visible step. */
interface Sample {
  at: number;
  status: string;
  p: number | null;
  /** 1/total when progress comes from request counts, else null. */
  step: number | null;
}

function toSample(o: unknown): Sample | null {
  if (!o || typeof o !== "object") return null;
  const { at, status, requestCounts: c, progress } = o as PollObservation;
  if (!finite(at) || typeof status !== "string") return null;
  if (c && typeof c === "object" && finite(c.total) && c.total > 0) {
    const done = (finite(c.completed) ? Math.max(0, c.completed) : 0) + (finite(c.failed) ? Math.max(0, c.failed) : 0);
    return { at, status, p: Math.min(1, done / c.total), step: 1 / c.total };
  }
  if (finite(progress) && progress >= 0) {
    return { at, status, p: progress > 1 ? Math.min(1, progress / 100) : progress, step: null };
  }
  return { at, status, p: null, step: null };
}

/** What the progress series says, from its last drop (a provider recounting) onwards. */
interface Trend {
  p: number;
  /** When the latest value was first seen: the last movement happened just before. */
  changedAt: number;
  /** The poll before that: the last movement happened after it. */
  changedAfter: number;
  /** The fastest of the long-run rate and the rates of the last few movements (fraction per ms). */
  fastRate: number;
  /** The long-run rate (fraction per ms). */
  longRate: number;
  /** The smallest visible step of progress. */
  quantum: number;
  /**
   * The pace just changed: the last movement ended a real stall (equal values for longer than
   * quantisation explains) or was more than twice as fast as the movement before (`speeding`), or
   * less than half as fast (`slowing`, perhaps the start of a stall).
   */
  resumed: boolean;
  speeding: boolean;
  slowing: boolean;
}

/** How many recent movements the fast rate looks at. */
const RECENT_MOVES = 3;

function rateBetween(a: Sample, b: Sample): number {
  return b.at > a.at && (b.p as number) > (a.p as number) ? ((b.p as number) - (a.p as number)) / (b.at - a.at) : 0;
}

/** The trend of `points` (samples with progress), or null if progress has never been seen moving. */
function progressTrend(points: Sample[]): Trend | null {
  const n = points.length;
  let start = 0;
  for (let i = 1; i < n; i++) if ((points[i].p as number) < (points[i - 1].p as number)) start = i;
  const last = points[n - 1];
  let same = n - 1; // first index showing the latest value
  while (same > start && points[same - 1].p === last.p) same--;
  if (same === start) return null;

  let minStep = Infinity;
  for (let i = start + 1; i < n; i++) {
    const d = (points[i].p as number) - (points[i - 1].p as number);
    if (d > 0 && d < minStep) minStep = d;
  }
  const quantum = last.step ?? Math.min(minStep, 0.01);

  const changed = points[same];
  const before = points[same - 1];
  const longRate = rateBetween(points[start], changed);
  // The fastest pace lately: the long-run rate or any of the last few movements, whichever is faster.
  let fastRate = longRate;
  for (let i = same, k = 0; i > start && k < RECENT_MOVES; i--) {
    if (points[i].p !== points[i - 1].p) {
      fastRate = Math.max(fastRate, rateBetween(points[i - 1], points[i]));
      k++;
    }
  }
  if (!(fastRate > 0) || !Number.isFinite(fastRate)) return null;

  // Was `before` the end of a stall? Find the run of points equal to it.
  let stallStart = same - 1;
  while (stallStart > start && points[stallStart - 1].p === before.p) stallStart--;
  let resumed = false;
  if (stallStart < same - 1) {
    const priorRate = stallStart > start ? rateBetween(points[start], points[stallStart]) : 0;
    resumed = priorRate === 0 || priorRate * (before.at - points[stallStart].at) >= 2 * quantum;
  }
  // Compare the last movement with the one before it, allowing one visible step of rounding.
  const priorRate = same - 2 >= start ? rateBetween(points[same - 2], before) : 0;
  const span = changed.at - before.at;
  const moved = (changed.p as number) - (before.p as number);
  const speeding = priorRate > 0 && span > 0 && (moved - quantum) / span > 2 * priorRate;
  const slowing = priorRate > 0 && span > 0 && (moved + quantum) / span < 0.5 * priorRate;
  return {
    p: last.p as number,
    changedAt: changed.at,
    changedAfter: before.at,
    fastRate,
    longRate: longRate > 0 ? longRate : fastRate,
    quantum,
    resumed,
    speeding,
    slowing,
  };
}

function briskDelay(age: number): number {
  return clamp(P.briskAgeFraction * age, P.briskMinMs, P.briskMaxMs);
}

/** Delay while validating / in progress, without native signals. */
function activeDelay(now: number, age: number, samples: Sample[]): number {
  const n = samples.length;
  const last = samples[n - 1];
  if (last.p !== null && last.p >= 1) return briskDelay(age); // every request done: finalizing is next

  const floor = P.activeFloorMs;
  // Since when has nothing moved? Moving is a change of status or of progress.
  let same = n - 1;
  while (same > 0 && samples[same - 1].status === last.status && samples[same - 1].p === last.p) same--;
  const idleCap = Math.min(P.idleCapMs, Math.max(floor, P.idleAgeFraction * age));
  const idle = Math.min(idleCap, Math.max(floor, P.stallGrowth * Math.max(0, now - samples[same].at)));
  if (last.p === null || last.status !== "in_progress") return idle;

  const points: Sample[] = [];
  for (const s of samples) if (s.p !== null) points.push(s);
  const trend = progressTrend(points);
  if (!trend) return idle; // never seen moving

  // When could the run end? No earlier than `earliest` (the fast rate, with progress possibly a
  // visible step ahead of what is shown) and, at the long-run pace, around `expected`.
  const q = trend.quantum;
  const lastStep = 1 - trend.p <= q * (1 + 1e-9); // only the final step is left to see
  const earliest = trend.changedAt + Math.max(0, 1 - trend.p - q) / trend.fastRate;
  const expected = Math.max(earliest, trend.changedAt + (1 - trend.p) / trend.longRate);
  const moved = same === n - 1;
  if (!moved && !lastStep && trend.longRate * Math.max(0, now - trend.changedAt) >= 2 * q) {
    return idle; // at least two steps were due and none came: a stall
  }

  const landing = Math.max(P.landingWindowMs, P.landingAgeFraction * age);
  let delay: number;
  if (now < earliest) {
    // Approach: part of the way to the earliest end, then land just after it.
    const remaining = earliest - now;
    delay = remaining <= landing ? remaining + Math.max(2 * SECOND, 0.1 * remaining) : Math.max(floor, P.approachFraction * remaining);
  } else if (now <= expected) {
    delay = landing; // inside the window where the run may end
  } else {
    delay = Math.min(idle, Math.max(landing, P.stallGrowth * (now - expected))); // behind schedule: back off
  }
  const progressingCap = Math.min(P.progressingCapMs, Math.max(floor, P.progressingAgeFraction * age));
  delay = Math.min(progressingCap, Math.max(P.briskMinMs, delay));
  if (moved && (trend.resumed || trend.speeding)) {
    // Progress resumed after a stall, or sped up, at some moment since the previous poll: the new
    // pace (possibly a burst) is unknown. Measure it before trusting a prediction.
    delay = Math.min(delay, Math.max(floor, 0.5 * (trend.changedAt - trend.changedAfter)));
  } else if (moved && trend.slowing) {
    delay = Math.min(delay, idleCap); // perhaps the start of a stall, which may end in a burst
  }
  return delay;
}

/** Safety-net delay behind native signals. */
function nativeDelay(status: string, age: number): number {
  const d = clamp(age, P.nativeMinMs, P.nativeMaxMs);
  return status === "finalizing" || status === "cancelling" ? Math.min(d, P.nativeBriskMs) : d;
}

function computeDelay(history: PollHistory): number {
  const raw: unknown = history?.observations;
  const samples: Sample[] = [];
  if (Array.isArray(raw)) {
    // Array order is authoritative (newest last), even if clocks make `at` go backwards.
    for (const o of raw) {
      const s = toSample(o);
      if (s) samples.push(s);
    }
  }
  const last = samples.length > 0 ? samples[samples.length - 1] : undefined;
  const now = finite(history?.now) ? history.now : last ? last.at : NaN;
  if (!last || !finite(now)) return P.emptyHistoryDelayMs;

  // The batch's age: from its creation if known and not in the future, else from tracking.
  let origin = now;
  for (const t of [history.createdAt, history.trackedAt, samples[0].at]) if (finite(t) && t < origin) origin = t;
  const age = now - origin;

  let delay: number;
  if (isTerminal(last.status)) {
    delay = MAX_POLL_DELAY_MS; // nothing left to detect (callers stop here); if asked anyway, rarely
  } else if (history.nativeSignals === true) {
    delay = nativeDelay(last.status, age);
  } else if (last.status === "finalizing" || last.status === "cancelling") {
    delay = briskDelay(age);
  } else {
    delay = activeDelay(now, age, samples);
  }

  // Never sleep past the deadline; once past it, poll briskly until the provider says so.
  const expiresAt = history.expiresAt;
  if (finite(expiresAt)) {
    const deadline = expiresAt + P.expiryMarginMs;
    if (now < deadline) delay = Math.min(delay, deadline - now);
    else if (!isTerminal(last.status)) delay = Math.min(delay, clamp(0.25 * (now - deadline), P.overdueMinMs, P.overdueMaxMs));
  }
  return delay;
}

/**
 * How long to wait (whole ms, within [MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS]) before polling the
 * batch again, given everything observed so far. Pure and deterministic; never throws.
 */
export function nextPollDelay(history: PollHistory): number {
  let ms: number;
  try {
    ms = computeDelay(history);
  } catch {
    ms = P.emptyHistoryDelayMs; // unreachable for typed input; a malformed object must not break the watcher
  }
  if (!Number.isFinite(ms)) ms = P.emptyHistoryDelayMs;
  return Math.round(clamp(ms, MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS));
}
