import { isTerminal, type UnifiedStatus } from "./providers/types";

/**
 * When to poll a provider's batch next: a pure, deterministic function of what has been seen.
 *
 * The durable watcher polls, appends the observation, keeps what {@link compactObservations}
 * keeps, calls {@link nextPollDelay} and `step.sleep`s for the result. What the progress series
 * says — its pace, how steady it is, when the work should be done and how sure that is — is
 * {@link estimateProgress}, a separate pure function so that an ETA can be derived from the same
 * evidence. The schedule (knobs in {@link POLLING_POLICY}; measured by bench/polling-economy.ts):
 *
 * 1. The watch window. A batch's end shows before it happens: `finalizing` (and often all requests
 *    counted while still in progress) lasts a percent or more of the run, and at least about half
 *    a minute. With nothing better to go on, the wait is that window for a batch of this age plus
 *    the detection delay we accept: 55 s + 1.5% of the age (55 s for a young batch, 23 min at a
 *    day, 66 min at three days). Queues, stalls, jumps, batches sitting at 100% and providers
 *    reporting no progress all get this wait, and it never grows past it: a stall back-off that
 *    outgrew the window would sleep through a last jump and the finalizing after it. The 1.5% is
 *    the trade-off between polls and late notices (BENCHMARKS.md shows the alternatives).
 * 2. Trust a predicted end only as far as the evidence. Progress since the last stall is fitted as
 *    a drift with noise (a diffusion): steady progress gives a small spread and a prediction worth
 *    trusting, jumps a spread as large as the prediction itself. Fewer than three separate
 *    movements is no pace at all, and a flat run longer than the pace explains (three visible
 *    steps due, none seen) is a stall that ends it. Only the earliest plausible end (mean − 2 sd)
 *    is used, and only to wait *longer* than the window: part of the way there, at most half as
 *    long as the pace has been seen holding, a quarter of the age and 2 hours. A prediction never
 *    shortens a wait, so a wrong one cannot keep polls frequent; and it lengthens the wait only
 *    until the next poll shows progress not keeping pace: a latest movement less than half or
 *    more than 1.75 times what the pace before it predicted, and beyond 4 standard deviations of
 *    its spread (a stall starting, or a burst, between two polls), contradicts the pace, and the
 *    wait is the window until progress moves again.
 * 3. `finalizing` / `cancelling` mean the end is near: poll briskly, every tenth of the age between
 *    5 and 55 s — never slower than a 60 s cron would — plus 0.2% of how long the phase has lasted
 *    (a three-hour finalizing phase would otherwise cost 200 polls).
 * 4. Never sleep past `expiresAt` (+30 s): by then the batch must be terminal. Past it, poll every
 *    30 s to 15 min until the provider says so.
 * 5. With `nativeSignals` (a verified provider webhook is live) completion arrives by webhook and
 *    polling is only the safety net for a lost one: the wait equals the age, from 15 minutes up to
 *    2 hours (30 minutes while finalizing / cancelling, when the webhook is due).
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
  /** The watch window: this long plus `windowAgeFraction` of the batch's age… */
  windowBaseMs: 55 * SECOND,
  windowAgeFraction: 0.015,
  /** A pace needs at least this many separate movements to predict anything. */
  minMovements: 3,
  /** No movement for as long as this many visible steps take at the pace before it: a stall. */
  stallSteps: 3,
  /** The earliest plausible end is the predicted one less this many standard deviations. */
  spreadZ: 2,
  /**
   * The latest movement contradicts the pace before it when it covered less than 1/this (a stall
   * starting) or more than `contradictFast` times (a burst) what that pace predicted, and further
   * than `contradictZ` standard deviations of its spread; a contradicted pace lengthens no wait.
   */
  contradictSlow: 2,
  contradictFast: 1.75,
  contradictZ: 4,
  /** With a trusted prediction, go this fraction of the way to its earliest end… */
  approachFraction: 0.6,
  /** …but at most this fraction of how long the pace has been seen holding, of the age, and this cap. */
  evidenceFraction: 0.5,
  trustedAgeFraction: 0.25,
  trustedCapMs: 2 * HOUR,
  /** While finalizing / cancelling: this fraction of the age, within the bounds. */
  briskAgeFraction: 0.1,
  briskMinMs: 5 * SECOND,
  briskMaxMs: 55 * SECOND,
  /** …plus this fraction of how long the phase has lasted. */
  briskGrowth: 0.002,
  /** Never sleep beyond expiresAt + this; once past it, poll within the overdue bounds. */
  expiryMarginMs: 30 * SECOND,
  overdueMinMs: 30 * SECOND,
  overdueMaxMs: 15 * MINUTE,
  /** Safety net behind native signals: the age, within these bounds; finalizing / cancelling cap. */
  nativeMinMs: 15 * MINUTE,
  nativeMaxMs: 2 * HOUR,
  nativeBriskMs: 30 * MINUTE,
  /** Observations the watcher keeps per batch (see compactObservations). */
  historyLimit: 50,
} as const);

/** The policy's knobs as numbers: {@link POLLING_POLICY} or a variant of it (see {@link pollScheduleWith}). */
export type PollingPolicy = { readonly [K in keyof typeof POLLING_POLICY]: number };

const DEFAULT: PollingPolicy = POLLING_POLICY;

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
  /** 1/total when the provider reports request counts, else null. */
  step: number | null;
}

function toSample(o: unknown): Sample | null {
  if (!o || typeof o !== "object") return null;
  const { at, status, requestCounts: c, progress } = o as PollObservation;
  if (!finite(at) || typeof status !== "string") return null;
  const fraction = finite(progress) && progress >= 0 ? (progress > 1 ? Math.min(1, progress / 100) : progress) : null;
  if (c && typeof c === "object" && finite(c.total) && c.total > 0) {
    // The provider's own figure when given (it counts cancelled / expired requests too), else the counts.
    const done = (finite(c.completed) ? Math.max(0, c.completed) : 0) + (finite(c.failed) ? Math.max(0, c.failed) : 0);
    return { at, status, p: fraction ?? Math.min(1, done / c.total), step: 1 / c.total };
  }
  return { at, status, p: fraction, step: null };
}

function toSamples(observations: unknown): Sample[] {
  const samples: Sample[] = [];
  if (Array.isArray(observations)) {
    // Array order is authoritative (newest last), even if clocks make `at` go backwards.
    for (const o of observations) {
      const s = toSample(o);
      if (s) samples.push(s);
    }
  }
  return samples;
}

const sameState = (a: Sample, b: Sample) => a.status === b.status && a.p === b.p;

/**
 * The observations worth keeping for the schedule, at most `limit` (the watcher stores these):
 * the first one, and the first and last of every run of equal observations (same status and
 * progress), newest last. The polls in the middle of a flat run say nothing the two ends do not,
 * so for {@link nextPollDelay} and {@link estimateProgress} the result is as good as the whole
 * history, as long as fewer than `limit` are kept; beyond that the oldest runs go first.
 */
export function compactObservations(observations: readonly PollObservation[], limit: number = POLLING_POLICY.historyLimit): PollObservation[] {
  const n = observations.length;
  const samples = observations.map(toSample);
  const kept: PollObservation[] = [];
  for (let i = 0; i < n; i++) {
    const s = samples[i];
    const prev = i > 0 ? samples[i - 1] : null;
    const next = i + 1 < n ? samples[i + 1] : null;
    const interior = s && prev && next && sameState(prev, s) && sameState(s, next);
    if (i === 0 || i === n - 1 || !interior) kept.push(observations[i]);
  }
  const max = Math.max(2, Math.floor(limit));
  return kept.length > max ? [kept[0], ...kept.slice(kept.length - (max - 1))] : kept;
}

/** What the progress series says: its pace, how steady it is, and when the work should be done. */
export interface ProgressEstimate {
  /** The latest fraction done in [0, 1], or null when the provider reports no progress. */
  progress: number | null;
  /** The smallest visible step of progress (1/total for request counts). */
  quantum: number;
  /** When progress last moved: first seen at `lastMovedAt`, after the poll at `lastMovedAfter`. */
  lastMovedAt: number | null;
  lastMovedAfter: number | null;
  /** How long progress has stood still (since the first observation, if it never moved). */
  stalledForMs: number;
  /** Separate movements (polls that saw progress move) since progress last went backwards. */
  movements: number;
  /** How long the pace has been measured over (ms). */
  evidenceMs: number;
  /** Fraction done per ms over that stretch (0 when it never moved). */
  pace: number;
  /**
   * The spread of that pace as a diffusion (fraction² per ms): small for steady progress, about
   * as large as the remaining work for progress that comes in bursts.
   */
  spread: number;
  /**
   * When all requests should be done (epoch ms): expected, and the earliest and latest plausible
   * (± `spreadZ` standard deviations of the time to cover the rest at this pace and spread).
   * Null without a pace from at least `minMovements` movements; `now` once everything is done.
   */
  expectedDoneAt: number | null;
  earliestDoneAt: number | null;
  latestDoneAt: number | null;
  /** In [0, 1]: 1 − (earliest-to-expected distance / expected remaining); 0 trusts nothing. */
  confidence: number;
  /**
   * The pace stopped holding: the current flat run is longer than the pace before it explains
   * (`stallSteps` visible steps were due and none came), so no end is predicted.
   */
  stalled: boolean;
  /**
   * The latest movement contradicts the pace measured before it (`contradictSlow` /
   * `contradictFast`, beyond `contradictZ` standard deviations): a stall starting or a burst
   * between two polls. The prediction is still given (for an ETA), but the schedule does not wait
   * on it.
   */
  contradicted: boolean;
  /**
   * The longest stretch progress stood still between two movements before the current one (from
   * the first poll that saw a value to the first that saw the next); 0 with fewer than two movements.
   * What "still for far longer than its own history" is measured against.
   */
  longestPauseMs: number;
  /** The latest status, and when the first poll of its current run saw it (null without observations). */
  status: string | null;
  statusSince: number | null;
}

function estimateFrom(samples: Sample[], now: number, P: PollingPolicy): ProgressEstimate {
  // Runs of equal progress values (the first and last poll that saw each), from after the last
  // time progress went backwards (a provider recounting).
  const values: number[] = [];
  const firstSeen: number[] = [];
  const lastSeen: number[] = [];
  let step: number | null = null;
  for (const s of samples) {
    if (s.p === null) continue;
    step = s.step;
    const n = values.length;
    if (n > 0 && s.p === values[n - 1]) lastSeen[n - 1] = Math.max(lastSeen[n - 1], s.at);
    else {
      if (n > 0 && s.p < values[n - 1]) values.length = firstSeen.length = lastSeen.length = 0;
      values.push(s.p);
      firstSeen.push(s.at);
      lastSeen.push(s.at);
    }
  }
  const runs = values.length;
  const estimate: ProgressEstimate = {
    progress: null,
    quantum: 0.01,
    lastMovedAt: null,
    lastMovedAfter: null,
    stalledForMs: samples.length > 0 ? Math.max(0, now - samples[0].at) : 0,
    movements: 0,
    evidenceMs: 0,
    pace: 0,
    spread: 0,
    expectedDoneAt: null,
    earliestDoneAt: null,
    latestDoneAt: null,
    confidence: 0,
    stalled: false,
    contradicted: false,
    longestPauseMs: 0,
    status: samples.length > 0 ? samples[samples.length - 1].status : null,
    statusSince: samples.length > 0 ? samples[statusRunStart(samples)].at : null,
  };
  if (runs === 0) return estimate;
  const c = runs - 1; // the current run
  lastSeen[c] = Math.max(lastSeen[c], now);
  const p = values[c];
  let minStep = 0.01;
  for (let i = 1; i < runs; i++) minStep = Math.min(minStep, values[i] - values[i - 1]);
  const quantum = step ?? minStep;
  estimate.progress = p;
  estimate.quantum = quantum;
  estimate.stalledForMs = Math.max(0, now - firstSeen[c]);
  if (c > 0) {
    estimate.lastMovedAt = firstSeen[c];
    estimate.lastMovedAfter = lastSeen[c - 1];
  }
  // Pauses between movements: run i (i ≥ 1, after the first movement) until run i + 1 was seen.
  for (let i = 1; i < c; i++) estimate.longestPauseMs = Math.max(estimate.longestPauseMs, firstSeen[i + 1] - firstSeen[i]);
  if (p >= 1) {
    estimate.expectedDoneAt = estimate.earliestDoneAt = estimate.latestDoneAt = now;
    estimate.confidence = 1;
    return estimate;
  }
  if (c === 0) return estimate; // never seen moving: a queue says nothing about the pace

  // The stretches from the first movement on, alternating: the movement into run i (interval
  // 2i − 2), then run i standing still (interval 2i − 1; the current run's ends at now).
  const count = 2 * c;
  const dp = (j: number) => (j % 2 === 0 ? values[j / 2 + 1] - values[j / 2] : 0);
  const dt = (j: number) => {
    const i = (j >> 1) + 1;
    return Math.max(0, j % 2 === 0 ? firstSeen[i] - lastSeen[i - 1] : lastSeen[i] - firstSeen[i]);
  };
  // A flat run longer than the pace before it explains (`stallSteps` visible steps were due and
  // none came) is a stall: it ends the pace measured before it, so measure from after the latest
  // one. If the current run is one, the pace has stopped holding and predicts nothing.
  let from = 0;
  let moved = 0;
  let span = 0;
  let stalled = false;
  for (let j = 0; j < count; j++) {
    if (j % 2 === 1 && moved > 0 && (moved / span) * dt(j) >= P.stallSteps * quantum) {
      if (j === count - 1) stalled = true;
      else {
        from = j + 1;
        moved = span = 0;
        continue;
      }
    }
    moved += dp(j);
    span += dt(j);
  }
  // The pace over that stretch, and its spread as a diffusion: Σ (Δp − pace·Δt)² / Δt over the
  // stretches. Counting whole requests adds at least quantum × pace (a Poisson count). A flat run
  // split by more polls has the same residual, so a compacted history gives the same spread.
  const pace = span > 0 ? moved / span : 0;
  let residual = 0;
  let movements = 0;
  for (let j = from; j < count; j++) {
    const t = dt(j);
    if (t > 0) residual += (dp(j) - pace * t) ** 2 / t;
    if (dp(j) > 0) movements++;
  }
  const spread = Math.max(residual / Math.max(1, count - from - 1), quantum * pace);
  estimate.contradicted = contradicts(from, count - 2, dp, dt, quantum, P);
  estimate.movements = movements;
  estimate.evidenceMs = span;
  estimate.pace = pace;
  estimate.spread = spread;
  estimate.stalled = stalled;
  if (movements < P.minMovements || stalled || !(pace > 0) || !(span > 0)) return estimate;

  // Time to cover the rest: a first passage at drift `pace` with diffusion `spread` (variance
  // rest·spread/pace³), plus the uncertainty of the pace itself (variance spread/evidence).
  const rest = 1 - p;
  const mean = rest / pace;
  const margin = P.spreadZ * Math.sqrt((rest * spread) / pace ** 3 + (mean ** 2 * spread) / (pace ** 2 * span));
  estimate.expectedDoneAt = now + mean;
  estimate.earliestDoneAt = now + Math.max(0, mean - margin);
  estimate.latestDoneAt = now + mean + margin;
  estimate.confidence = clamp(1 - margin / mean, 0, 1);
  return estimate;
}

/**
 * Whether stretch `last` (a movement) contradicts the pace and spread measured over the stretches
 * [from, last) before it, as {@link estimateFrom} measures them. Needs `minMovements` movements
 * before it: a pace that is not yet one cannot be contradicted.
 */
function contradicts(
  from: number,
  last: number,
  dp: (j: number) => number,
  dt: (j: number) => number,
  quantum: number,
  P: PollingPolicy,
): boolean {
  if (last <= from || !(dp(last) > 0)) return false;
  let moved = 0;
  let span = 0;
  let movements = 0;
  for (let j = from; j < last; j++) {
    moved += dp(j);
    span += dt(j);
    if (dp(j) > 0) movements++;
  }
  if (movements < P.minMovements || !(moved > 0) || !(span > 0)) return false;
  const pace = moved / span;
  let residual = 0;
  for (let j = from; j < last; j++) {
    const t = dt(j);
    if (t > 0) residual += (dp(j) - pace * t) ** 2 / t;
  }
  const spread = Math.max(residual / Math.max(1, last - from - 1), quantum * pace);
  const t = dt(last);
  const expected = pace * t;
  const seen = dp(last);
  if (seen >= expected / P.contradictSlow && seen <= expected * P.contradictFast) return false;
  // Its standard deviation: the spread over the stretch plus the uncertainty of the pace itself.
  const sd = Math.sqrt(spread * t + (expected ** 2 * spread) / (pace ** 2 * span));
  return Math.abs(seen - expected) > P.contradictZ * sd;
}

/** {@link ProgressEstimate} of a history at `history.now` (pure and total, like nextPollDelay). */
export function estimateProgress(history: PollHistory): ProgressEstimate {
  const samples = toSamples(history?.observations);
  const last = samples[samples.length - 1];
  const now = finite(history?.now) ? history.now : last ? last.at : 0;
  return estimateFrom(samples, now, DEFAULT);
}

/** The wait with nothing better to go on: the window in which a batch of this age shows its end. */
function watchWindow(age: number, P: PollingPolicy): number {
  return P.windowBaseMs + P.windowAgeFraction * age;
}

/** The index of the first sample of the trailing run of samples with the latest status. */
function statusRunStart(samples: Sample[]): number {
  let since = samples.length - 1;
  while (since > 0 && samples[since - 1].status === samples[since].status) since--;
  return since;
}

/**
 * While finalizing / cancelling: briskly, and a little less so the longer it has lasted (a long
 * finalizing phase would otherwise cost hundreds of polls).
 */
function briskDelay(age: number, samples: Sample[], now: number, P: PollingPolicy): number {
  const since = samples[statusRunStart(samples)].at;
  return clamp(P.briskAgeFraction * age, P.briskMinMs, P.briskMaxMs) + P.briskGrowth * Math.max(0, now - since);
}

/** Delay while validating / in progress, without native signals. */
function activeDelay(now: number, age: number, samples: Sample[], P: PollingPolicy): number {
  const window = watchWindow(age, P);
  const last = samples[samples.length - 1];
  if (last.status !== "in_progress" || last.p === null || last.p >= 1) return window;
  const estimate = estimateFrom(samples, now, P);
  if (estimate.earliestDoneAt === null || estimate.confidence <= 0 || estimate.contradicted) return window;
  // A trusted pace: the work cannot be done before `earliestDoneAt`, so wait part of the way there
  // — no longer than a fraction of how long the pace has held, nor of the age.
  const cap = Math.min(P.trustedCapMs, P.trustedAgeFraction * age, P.evidenceFraction * estimate.evidenceMs);
  return Math.max(window, Math.min(cap, P.approachFraction * (estimate.earliestDoneAt - now)));
}

/** Safety-net delay behind native signals. */
function nativeDelay(status: string, age: number, P: PollingPolicy): number {
  const d = clamp(age, P.nativeMinMs, P.nativeMaxMs);
  return status === "finalizing" || status === "cancelling" ? Math.min(d, P.nativeBriskMs) : d;
}

function computeDelay(history: PollHistory, P: PollingPolicy): number {
  const samples = toSamples(history?.observations);
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
    delay = nativeDelay(last.status, age, P);
  } else if (last.status === "finalizing" || last.status === "cancelling") {
    delay = briskDelay(age, samples, now, P);
  } else {
    delay = activeDelay(now, age, samples, P);
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
  return delayUnder(history, DEFAULT);
}

/**
 * The same schedule with some knobs changed: what bench/polling-economy.ts measures the
 * trade-off between polls and detection delay with (`--frontier`). Production uses
 * {@link nextPollDelay}.
 */
export function pollScheduleWith(overrides: Partial<PollingPolicy>): (history: PollHistory) => number {
  const policy: PollingPolicy = Object.freeze({ ...POLLING_POLICY, ...overrides });
  return (history) => delayUnder(history, policy);
}

function delayUnder(history: PollHistory, policy: PollingPolicy): number {
  let ms: number;
  try {
    ms = computeDelay(history, policy);
  } catch {
    ms = policy.emptyHistoryDelayMs; // unreachable for typed input; a malformed object must not break the watcher
  }
  if (!Number.isFinite(ms)) ms = policy.emptyHistoryDelayMs;
  return Math.round(clamp(ms, MIN_POLL_DELAY_MS, MAX_POLL_DELAY_MS));
}
