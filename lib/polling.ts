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

/** The policy's knobs, exported so tests and the benchmark can describe them. */
export const POLLING_POLICY = {
  /** No observation at all: look again shortly. */
  emptyHistoryDelayMs: 10 * SECOND,
  /** Shortest wait while validating / in progress (unless landing just after a predicted end). */
  activeFloorMs: 30 * SECOND,
  /** Longest wait while nothing moves / while progress moves (without native signals). */
  idleCapMs: 45 * MINUTE,
  progressingCapMs: 2 * HOUR,
  /** With nothing moving, the wait is at most this fraction of the batch's age… */
  idleAgeFraction: 0.07,
  /** …and grows as this fraction of how long nothing has moved. */
  stallGrowth: 0.5,
  /** With progress moving, the wait is at most this fraction of the age. */
  progressingAgeFraction: 0.2,
  /** Go this fraction of the way to the predicted end of the in-progress phase… */
  approachFraction: 0.5,
  /** …until the predicted end is this close (or this fraction of the age), then land just after it. */
  landingWindowMs: 30 * SECOND,
  landingAgeFraction: 0.02,
  /** While finalizing/cancelling: this fraction of the age, between the bounds. */
  briskAgeFraction: 0.1,
  briskMinMs: 5 * SECOND,
  briskMaxMs: 45 * SECOND,
  /** Never sleep beyond expiresAt + this; once past it, poll between these bounds. */
  expiryMarginMs: 30 * SECOND,
  overdueMinMs: 30 * SECOND,
  overdueMaxMs: 15 * MINUTE,
  /** Safety-net polling with native signals: doubling from min to max; finalizing/cancelling cap. */
  nativeMinMs: 15 * MINUTE,
  nativeMaxMs: 2 * HOUR,
  nativeBriskMs: 30 * MINUTE,
} as const;

const P = POLLING_POLICY;

const TERMINAL: ReadonlySet<string> = new Set(["completed", "failed", "expired", "cancelled"]);

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Progress in [0, 1] from an observation, or null if it carries none. */
function progressOf(o: PollObservation): number | null {
  const c = o.requestCounts;
  if (c && typeof c === "object" && finite(c.total) && c.total > 0) {
    const done = (finite(c.completed) ? Math.max(0, c.completed) : 0) + (finite(c.failed) ? Math.max(0, c.failed) : 0);
    return clamp(done / c.total, 0, 1);
  }
  if (finite(o.progress) && o.progress >= 0) return o.progress > 1 ? clamp(o.progress / 100, 0, 1) : o.progress;
  return null;
}

interface Point {
  at: number;
  p: number;
}

/** What the progress series says, from the last drop (a provider recounting) onwards. */
interface ProgressTrend {
  p: number;
  /** Time of the first point showing the latest value: the last movement was seen then. */
  changedAt: number;
  /** Time of the point before that (the movement happened in between), if any. */
  changedAfter: number | null;
  /** Completion rate (fraction per ms): the faster of the long-run and the latest rate. */
  rate: number | null;
  /** Long-run rate over the series. */
  longRate: number | null;
  /** The smallest visible step of progress (1/total for counts). */
  quantum: number;
  /** The last movement ended a real stall: several equal points for longer than quantisation explains. */
  resumed: boolean;
}

function progressTrend(points: Point[], quantumHint: number | null): ProgressTrend {
  let start = 0;
  for (let i = 1; i < points.length; i++) if (points[i].p < points[i - 1].p) start = i;
  const run = points.slice(start);
  const n = run.length;
  const last = run[n - 1];
  let firstSame = n - 1;
  while (firstSame > 0 && run[firstSame - 1].p === last.p) firstSame--;

  let minStep = Infinity;
  for (let i = 1; i < n; i++) {
    const d = run[i].p - run[i - 1].p;
    if (d > 0 && d < minStep) minStep = d;
  }
  const quantum = quantumHint ?? (Number.isFinite(minStep) ? Math.min(minStep, 0.01) : 0.001);

  const rateBetween = (a: Point, b: Point) => (b.at > a.at && b.p > a.p ? (b.p - a.p) / (b.at - a.at) : null);
  let longRate: number | null = null;
  let rate: number | null = null;
  let resumed = false;
  if (firstSame > 0) {
    const changed = run[firstSame];
    const before = run[firstSame - 1];
    longRate = rateBetween(run[0], changed);
    const lastRate = rateBetween(before, changed);
    rate = Math.max(longRate ?? 0, lastRate ?? 0) || null;
    // Was `before` the end of a stall? Find the run of points equal to it.
    let stallStart = firstSame - 1;
    while (stallStart > 0 && run[stallStart - 1].p === before.p) stallStart--;
    if (stallStart < firstSame - 1) {
      const priorRate = stallStart > 0 ? rateBetween(run[0], run[stallStart]) : null;
      const stalledFor = before.at - run[stallStart].at;
      resumed = priorRate === null || priorRate * stalledFor >= 2 * quantum;
    }
  }
  return {
    p: last.p,
    changedAt: run[firstSame].at,
    changedAfter: firstSame > 0 ? run[firstSame - 1].at : null,
    rate,
    longRate,
    quantum,
    resumed,
  };
}

/** Delay while validating / in progress, without native signals. */
function activeDelay(now: number, age: number, observations: PollObservation[]): number {
  const n = observations.length;
  const last = observations[n - 1];
  const lastP = progressOf(last);
  if (lastP !== null && lastP >= 1) return briskDelay(age); // every request done: finalizing is next

  const floor = P.activeFloorMs;
  const idleCap = Math.min(P.idleCapMs, Math.max(floor, P.idleAgeFraction * age));
  const progressingCap = Math.min(P.progressingCapMs, Math.max(floor, P.progressingAgeFraction * age));

  // How long has nothing moved? "Moving" is a change of status or of progress.
  let firstSame = n - 1;
  while (firstSame > 0 && observations[firstSame - 1].status === last.status && progressOf(observations[firstSame - 1]) === lastP) {
    firstSame--;
  }
  const idle = Math.min(idleCap, Math.max(floor, P.stallGrowth * Math.max(0, now - observations[firstSame].at)));
  if (lastP === null || last.status !== "in_progress") return idle;

  const points: Point[] = [];
  for (const o of observations) {
    const p = progressOf(o);
    if (p !== null) points.push({ at: o.at, p });
  }
  const c = last.requestCounts;
  const trend = progressTrend(points, c && finite(c.total) && c.total > 0 ? 1 / c.total : null);
  if (trend.rate === null) return idle; // never seen moving

  // Where the run could end: no earlier than `earliest` (the faster rate, and progress possibly
  // up to one visible step ahead of what is shown) and, at the long-run pace, around `expected`.
  const q = trend.quantum;
  const lastStep = 1 - trend.p <= q * (1 + 1e-9); // only the final step is left to see
  const earliest = trend.changedAt + Math.max(0, 1 - trend.p - q) / trend.rate;
  const expected = Math.max(earliest, trend.changedAt + (1 - trend.p) / (trend.longRate ?? trend.rate));
  const landing = Math.max(P.landingWindowMs, P.landingAgeFraction * age);
  const moved = firstSame === n - 1;

  if (!moved && !lastStep && (trend.longRate ?? 0) * Math.max(0, now - trend.changedAt) >= 2 * q) {
    return idle; // at least two steps were due and none came: a stall
  }
  let delay: number;
  if (now < earliest) {
    // Approach: halfway to the earliest end, then land just after it.
    const remaining = earliest - now;
    delay = remaining <= landing ? remaining + Math.max(2 * SECOND, 0.1 * remaining) : Math.max(floor, P.approachFraction * remaining);
  } else if (now <= expected) {
    delay = landing; // inside the window where the run may end: look every `landing`
  } else {
    delay = Math.min(idle, Math.max(landing, P.stallGrowth * (now - expected))); // behind schedule: back off
  }
  delay = Math.min(progressingCap, Math.max(P.briskMinMs, delay));
  if (moved && trend.resumed && trend.changedAfter !== null) {
    // Progress resumed after a stall at some unknown moment since the previous poll: its rate is
    // unknown, possibly a burst. Measure it before trusting a prediction.
    delay = Math.min(delay, Math.max(floor, 0.5 * (trend.changedAt - trend.changedAfter)));
  }
  return delay;
}

function briskDelay(age: number): number {
  return clamp(P.briskAgeFraction * age, P.briskMinMs, P.briskMaxMs);
}

/** Safety-net delay with native signals. */
function nativeDelay(status: UnifiedStatus, age: number): number {
  const d = clamp(age, P.nativeMinMs, P.nativeMaxMs);
  return status === "finalizing" || status === "cancelling" ? Math.min(d, P.nativeBriskMs) : d;
}

/**
 * How long to wait (whole ms, within [MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS]) before polling the
 * batch again, given everything observed so far. Pure and deterministic.
 */
export function nextPollDelay(history: PollHistory): number {
  try {
    return finalise(computeDelay(history));
  } catch {
    // Unreachable for well-typed input; a malformed object must still not break the watcher.
    return P.emptyHistoryDelayMs;
  }
}

function finalise(ms: number): number {
  if (!Number.isFinite(ms)) return P.emptyHistoryDelayMs;
  return Math.round(clamp(ms, MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS));
}

function computeDelay(history: PollHistory): number {
  const raw = Array.isArray(history?.observations) ? history.observations : [];
  // Array order is authoritative (newest last), even if clocks make `at` go backwards.
  const observations = raw.filter(
    (o): o is PollObservation => !!o && typeof o === "object" && finite(o.at) && typeof o.status === "string",
  );

  const lastSeen = observations.length > 0 ? observations[observations.length - 1].at : NaN;
  const now = finite(history?.now) ? history.now : finite(lastSeen) ? lastSeen : NaN;

  // The batch's age: from its creation if that is known and not in the future, else from tracking.
  const origins = [history?.createdAt, history?.trackedAt, observations[0]?.at].filter(
    (t): t is number => finite(t) && (!finite(now) || t <= now),
  );
  const origin = origins.length > 0 ? Math.min(...origins) : now;
  const age = finite(now) && finite(origin) ? Math.max(0, now - origin) : 0;

  const last = observations[observations.length - 1];
  const native = history?.nativeSignals === true;

  let delay: number;
  if (!last) {
    delay = P.emptyHistoryDelayMs;
  } else if (TERMINAL.has(last.status)) {
    // Nothing left to detect; callers stop here. Should one poll anyway, do it rarely.
    delay = MAX_POLL_DELAY_MS;
  } else if (native) {
    delay = nativeDelay(last.status, age);
  } else if (last.status === "finalizing" || last.status === "cancelling") {
    delay = briskDelay(age);
  } else {
    delay = finite(now) ? activeDelay(now, age, observations) : P.activeFloorMs;
  }

  // Never sleep past the deadline; once past it, poll briskly until the provider says so.
  const expiresAt = history?.expiresAt;
  if (finite(expiresAt) && finite(now)) {
    const deadline = expiresAt + P.expiryMarginMs;
    if (now < deadline) delay = Math.min(delay, deadline - now);
    else if (!last || !TERMINAL.has(last.status)) {
      delay = Math.min(delay, clamp(0.25 * (now - deadline), P.overdueMinMs, P.overdueMaxMs));
    }
  }
  return delay;
}
