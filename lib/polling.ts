import { isTerminal, type UnifiedStatus } from "./providers/types";

/**
 * When to poll a provider's batch next: a pure, deterministic function of what has been seen.
 *
 * The durable watcher polls, appends the observation, calls {@link nextPollDelay} and
 * `step.sleep`s for the result. The schedule follows a few principles (knobs in
 * {@link POLLING_POLICY}; measured by bench/polling-economy.ts):
 *
 * 1. Scale with age. A batch's phases last in proportion to how long it has run, so without better
 *    information the wait is a fraction of the batch's age, never below ~1 minute (55 s): a young
 *    batch is polled about once a minute for its first minutes (the few percent that fail, fail
 *    then) and an old one every few minutes to hours.
 * 2. Trust progress, cautiously. From request counts ((completed + failed) / total) or `progress`
 *    the end of the run is predicted — optimistically, from the fastest of the long-run pace and
 *    the last few movements, since polling early costs a poll and polling late costs detection
 *    delay — and approached geometrically (65% of the way each time), landing just after it.
 *    While progressing, a wait never exceeds 30% of the age (2 h at most): a batch that progresses,
 *    stalls and then bursts must not be slept through. A sudden speed-up, or progress resuming
 *    after a stall, is re-measured after half the last interval; a slow-down is treated as a
 *    possible stall. Coarse counts are read with their step (1/total): no change is only a stall
 *    once two steps were due, and the last step's wide window gets at most ~10 polls.
 * 3. Back off while nothing moves: the wait grows with the length of the stall (×1.5 per poll), up
 *    to 9% of the age and 45 minutes — a burst plus finalizing lasts a few percent of the run, so
 *    most stalls are still caught before the batch ends.
 * 4. `finalizing` / `cancelling` mean the end is near: poll briskly, every tenth of the age between
 *    5 and 55 s — never slower than a 60 s cron would, so detection is no later than it.
 * 5. Never sleep past `expiresAt` (+30 s): by then the batch must be terminal. Past it, poll every
 *    30 s to 15 min until the provider says so.
 * 6. With `nativeSignals` (a verified provider webhook is live) completion arrives by webhook and
 *    polling is only the safety net for a lost one: the wait equals the age, from 15 minutes up to
 *    2 hours (30 minutes while finalizing / cancelling, when the webhook is due), so a lost webhook
 *    is noticed within ~2 hours for ~1/60 of a 60 s poll's cost.
 *
 * The function is total: any input — empty observations, NaN or missing fields, counts with a 0
 * total, progress going backwards, a clock behind the last observation, a creation time in the
 * future — yields a whole number of milliseconds in [MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS].
 */

export type { UnifiedStatus };

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

/** The policy's knobs (frozen; exported so tests and the benchmark can describe them). */
export const POLLING_POLICY = Object.freeze({
  /** No usable observation at all: look again shortly. */
  emptyHistoryDelayMs: 10 * SECOND,
  /** Shortest wait while validating / in progress (unless landing just after a predicted end). */
  activeFloorMs: 55 * SECOND,
  /** With nothing moving, the wait grows as this fraction of how long nothing has moved… */
  stallGrowth: 0.5,
  /** …up to this fraction of the batch's age, and this absolute cap. */
  idleAgeFraction: 0.09,
  idleCapMs: 45 * MINUTE,
  /** With progress moving, the wait is at most this fraction of the age, and this cap. */
  progressingAgeFraction: 0.3,
  progressingCapMs: 2 * HOUR,
  /** Go this fraction of the way to the earliest predicted end of the run… */
  approachFraction: 0.65,
  /** …until it is this close (or this fraction of the age away), then land just after it. */
  landingWindowMs: 30 * SECOND,
  landingAgeFraction: 0.007,
  /** Inside the window where the run may end, look every `landing` but at most this many times. */
  windowPolls: 10,
  /** While finalizing / cancelling: this fraction of the age, within the bounds. */
  briskAgeFraction: 0.1,
  briskMinMs: 5 * SECOND,
  briskMaxMs: 55 * SECOND,
  /** Never sleep beyond expiresAt + this; once past it, poll within the overdue bounds. */
  expiryMarginMs: 30 * SECOND,
  overdueMinMs: 30 * SECOND,
  overdueMaxMs: 15 * MINUTE,
  /** Safety net behind native signals: the age, within these bounds; finalizing / cancelling cap. */
  nativeMinMs: 15 * MINUTE,
  nativeMaxMs: 2 * HOUR,
  nativeBriskMs: 30 * MINUTE,
} as const);

const P = POLLING_POLICY;

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
  // The current regime starts where the last real stall ended: equal values for longer than
  // quantisation explains — at least two steps due at the pace before it (or, with no movement
  // before it, at the pace after it, taken one visible step short). Paces are measured within the
  // regime, so a burst is not averaged with the stall before it.
  let regime = start;
  for (let i = start; i < same; ) {
    let j = i;
    while (j + 1 < same && points[j + 1].p === points[i].p) j++;
    if (j > i) {
      let pace = i > regime ? rateBetween(points[regime], points[i]) : 0;
      if (pace === 0 && changed.at > points[j].at) {
        pace = Math.max(0, (changed.p as number) - (points[j].p as number) - quantum) / (changed.at - points[j].at);
      }
      if (pace * (points[j].at - points[i].at) >= 2 * quantum) regime = j;
    }
    i = j + 1;
  }
  const before = points[same - 1];
  const longRate = rateBetween(points[regime], changed);
  // The fastest pace lately: the regime's or any of the last few movements', whichever is faster.
  // A movement's rate is taken one visible step short (rounding can add up to a step).
  let fastRate = longRate;
  for (let i = same, k = 0; i > regime && k < RECENT_MOVES; i--) {
    const d = (points[i].p as number) - (points[i - 1].p as number);
    const span = points[i].at - points[i - 1].at;
    if (d > 0) {
      if (span > 0 && d > quantum) fastRate = Math.max(fastRate, (d - quantum) / span);
      k++;
    }
  }
  if (!(fastRate > 0) || !Number.isFinite(fastRate)) return null;

  // Did the last movement end a run of equal values that was a stall — or, with no movement
  // before it, may have been one (then the first movement may be a burst, too)?
  let runStart = same - 1;
  while (runStart > start && points[runStart - 1].p === before.p) runStart--;
  const priorPace = runStart > start ? rateBetween(points[start], points[runStart]) : 0;
  const resumed = runStart < same - 1 && (priorPace === 0 || priorPace * (before.at - points[runStart].at) >= 2 * quantum);
  // Compare the last movement with the one before it, allowing one visible step of rounding.
  const priorRate = same - 2 >= regime ? rateBetween(points[same - 2], before) : 0;
  const span = changed.at - before.at;
  const moved = (changed.p as number) - (before.p as number);
  return {
    p: last.p as number,
    changedAt: changed.at,
    changedAfter: before.at,
    fastRate,
    longRate: longRate > 0 ? longRate : fastRate,
    quantum,
    resumed,
    speeding: priorRate > 0 && span > 0 && (moved - quantum) / span > 2 * priorRate,
    slowing: priorRate > 0 && span > 0 && (moved + quantum) / span < 0.5 * priorRate,
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
    // Inside the window where the run may end (for coarse counts, the whole last step): look
    // every `landing`, but spend at most ~`windowPolls` polls on it — a wide window is as good as
    // a stall.
    delay = Math.max(landing, Math.min(idle, (expected - earliest) / P.windowPolls));
  } else {
    delay = Math.min(idle, Math.max(landing, P.stallGrowth * (now - expected))); // behind schedule: back off
  }
  // Trust progress as far as it is seen moving: without movement at the last poll (a coarse count
  // can hide a stall for long), the cap grows from the idle one with the time since the last step.
  let cap = Math.min(P.progressingCapMs, Math.max(floor, P.progressingAgeFraction * age));
  if (!moved) cap = Math.max(idleCap, Math.min(cap, P.stallGrowth * Math.max(0, now - trend.changedAt)));
  delay = Math.min(cap, Math.max(P.briskMinMs, delay));
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
