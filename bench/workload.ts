/**
 * A seeded simulator of LLM batch jobs, used to measure poll schedules (bench/polling-economy.ts).
 * Everything derives from one 32-bit seed through mulberry32, so (seed, count, options) always
 * yields the same batches.
 *
 * The default workload follows the brief:
 * - lengths (createdAt → terminal) log-uniform from 2 minutes to 24 hours, plus a tail (10%)
 *   log-uniform from 1 to 3 days;
 * - 3% fail within minutes (20 s – 8 min after creation; most while validating);
 * - the rest run `validating` (seconds, at most a few minutes) → `in_progress` → `finalizing`
 *   (1–5% of the length, at least 30 s) → `completed`. In progress, 60% move steadily
 *   (piecewise-linear, per-segment rates within ±25%) and 40% stall and then burst to completion in
 *   2–10% of the run: two thirds progress for a while, stall for 20–70% of the run, then burst;
 *   a third sit at 0 from the start until the burst (queued, then processed all at once);
 * - progress is reported as request counts (total 50–50,000; 80%) or as a `progress` fraction
 *   only (20%);
 * - createdAt is 0–60 s before trackedAt; expiresAt = createdAt + 24 h (72 h for the tail), never
 *   less than the length.
 * {@link WORKLOAD_VARIANTS} bend each of these (harsher stalls, shorter finalizing, coarse counts,
 * no progress information, noisy rates, expiring batches, …) to check that a schedule is not tuned
 * to one shape.
 */
import type { PollObservation, UnifiedStatus } from "../lib/polling";

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export type BatchKind = "steady" | "stall-burst" | "early-failure" | "expiring";
export type ProgressReporting = "counts" | "fraction" | "none";

export interface SimulatedBatch {
  readonly id: number;
  readonly kind: BatchKind;
  readonly reporting: ProgressReporting;
  readonly createdAt: number;
  readonly trackedAt: number;
  readonly expiresAt: number;
  /** The instant the batch becomes terminal: observe(t) is terminal iff t >= endAt. */
  readonly endAt: number;
  /** endAt - createdAt. */
  readonly lengthMs: number;
  readonly terminalStatus: UnifiedStatus;
  /** What a poll at time t would report. */
  observe(t: number): PollObservation;
}

export type Range = readonly [number, number];

export interface WorkloadOptions {
  /** Share of 1–3 day batches. */
  tailShare?: number;
  /** Share failing within minutes. */
  earlyFailureShare?: number;
  /** Share that never finishes and flips to `expired` just after expiresAt. */
  expiringShare?: number;
  /** Among normal batches, the share that stall and then burst. */
  stallShare?: number;
  /** Stall duration as a fraction of the in-progress time. */
  stallFraction?: Range;
  /** Among stalling batches, the share stalled from the very start (queued, then all at once). */
  stallFromStartShare?: number;
  /** Burst duration as a fraction of the in-progress time. */
  burstFraction?: Range;
  /** Finalizing duration as a fraction of the length (at least 30 s). */
  finalizingFraction?: Range;
  /** Steady batches: per-segment rate multipliers. */
  steadyRate?: Range;
  /** Request totals (log-uniform). */
  requestTotal?: Range;
  /** Share reporting a progress fraction only, and nothing at all (status only). */
  fractionOnlyShare?: number;
  noProgressShare?: number;
  /** Core lengths (log-uniform). */
  lengthMs?: Range;
}

export const DEFAULT_WORKLOAD: Required<WorkloadOptions> = {
  tailShare: 0.1,
  earlyFailureShare: 0.03,
  expiringShare: 0,
  stallShare: 0.4,
  stallFraction: [0.2, 0.7],
  stallFromStartShare: 1 / 3,
  burstFraction: [0.02, 0.1],
  finalizingFraction: [0.01, 0.05],
  steadyRate: [0.8, 1.25],
  requestTotal: [50, 50_000],
  fractionOnlyShare: 0.2,
  noProgressShare: 0,
  lengthMs: [2 * MINUTE, DAY],
};

/** Named variants, to check that a schedule is not tuned to the default shape. */
export const WORKLOAD_VARIANTS: Readonly<Record<string, WorkloadOptions>> = {
  default: {},
  /** Most batches stall, longer, from the start more often, and burst faster. */
  "stall-heavy": { stallShare: 0.6, stallFraction: [0.3, 0.85], stallFromStartShare: 0.5, burstFraction: [0.01, 0.05] },
  /** Short stalls (10–30% of the run) after progress: the hardest case for trusting a rate. */
  "short-stalls": { stallShare: 0.5, stallFraction: [0.1, 0.3], stallFromStartShare: 0 },
  /** Stalls of 10–50% of the run. */
  "mixed-stalls": { stallFraction: [0.1, 0.5] },
  /** Finalizing of 0.5–2% of the length. */
  "short-finalizing": { finalizingFraction: [0.005, 0.02] },
  /** Rates varying 2.5x between segments, and small batches with coarse counts. */
  noisy: { steadyRate: [0.6, 1.5], requestTotal: [10, 5_000] },
  /** Small batches: 2–1,000 requests, so counts move in coarse steps. */
  "coarse-counts": { requestTotal: [2, 1_000], fractionOnlyShare: 0 },
  /** A tenth report status only, and a few never finish before expiring. */
  harsh: { noProgressShare: 0.1, expiringShare: 0.01, steadyRate: [0.6, 1.5], requestTotal: [10, 50_000] },
  /** A plainer reading of the brief: linear progress, half stall from the start, finalizing 2–5%. */
  plain: { steadyRate: [1, 1], stallShare: 0.5, stallFromStartShare: 1, finalizingFraction: [0.02, 0.05], fractionOnlyShare: 0 },
  /** Uniformly long: no 2-minute batches, no tail. */
  "hours-only": { lengthMs: [HOUR, DAY], tailShare: 0 },
  "no-tail": { tailShare: 0 },
  "failure-heavy": { earlyFailureShare: 0.08 },
};

const logUniform = (rand: () => number, [lo, hi]: Range) => lo * Math.exp(rand() * Math.log(hi / lo));
const uniform = (rand: () => number, [lo, hi]: Range) => lo + rand() * (hi - lo);

/** A piecewise-linear, non-decreasing progress curve through (time, fraction) knots. */
class Curve {
  constructor(
    private readonly times: number[],
    private readonly values: number[],
  ) {}
  at(t: number): number {
    const { times, values } = this;
    if (t <= times[0]) return values[0];
    for (let i = 1; i < times.length; i++) {
      if (t < times[i]) {
        const span = times[i] - times[i - 1];
        const f = span > 0 ? (t - times[i - 1]) / span : 1;
        return values[i - 1] + f * (values[i] - values[i - 1]);
      }
    }
    return values[values.length - 1];
  }
}

interface Shape {
  kind: BatchKind;
  expiresAt: number;
  validatingEnd: number;
  /** Finalizing starts here (for batches that finalize). */
  inProgressEnd: number;
  endAt: number;
  curve: Curve;
  terminal: UnifiedStatus;
  finalizes: boolean;
}

function earlyFailure(rand: () => number, createdAt: number, trackedAt: number): Shape {
  // Fails 20 s – 8 min after creation (never before tracking starts); 60% while validating.
  const endAt = Math.max(trackedAt + SECOND, createdAt + Math.round(logUniform(rand, [20 * SECOND, 8 * MINUTE])));
  const inValidation = rand() < 0.6;
  const validatingEnd = inValidation ? endAt : createdAt + Math.round((endAt - createdAt) * uniform(rand, [0.2, 0.6]));
  const reached = inValidation ? 0 : uniform(rand, [0, 0.05]);
  return {
    kind: "early-failure",
    expiresAt: createdAt + DAY,
    validatingEnd,
    inProgressEnd: endAt,
    endAt,
    curve: new Curve([validatingEnd, endAt], [0, reached]),
    terminal: "failed",
    finalizes: false,
  };
}

function expiring(rand: () => number, createdAt: number): Shape {
  // Progresses to 0–95%, stops somewhere, and flips to `expired` 0–20 s after the deadline.
  const expiresAt = createdAt + DAY;
  const validatingEnd = createdAt + Math.round(uniform(rand, [5 * SECOND, 2 * MINUTE]));
  const endAt = expiresAt + Math.round(rand() * 20 * SECOND);
  const reached = uniform(rand, [0, 0.95]);
  const stopsAt = validatingEnd + (expiresAt - validatingEnd) * uniform(rand, [0.1, 0.9]);
  return {
    kind: "expiring",
    expiresAt,
    validatingEnd,
    inProgressEnd: endAt,
    endAt,
    curve: new Curve([validatingEnd, stopsAt, endAt], [0, reached, reached]),
    terminal: "expired",
    finalizes: false,
  };
}

function normal(rand: () => number, createdAt: number, tail: boolean, o: Required<WorkloadOptions>): Shape {
  const lengthMs = Math.round(tail ? logUniform(rand, [DAY, 3 * DAY]) : logUniform(rand, o.lengthMs));
  const endAt = createdAt + lengthMs;
  const finalizing = Math.min(0.4 * lengthMs, Math.max(30 * SECOND, lengthMs * uniform(rand, o.finalizingFraction)));
  const validating = Math.min(0.1 * lengthMs, 5 * SECOND + rand() * Math.min(3 * MINUTE, 0.01 * lengthMs));
  const validatingEnd = createdAt + Math.round(validating);
  const inProgressEnd = endAt - Math.round(finalizing);
  const run = inProgressEnd - validatingEnd;
  const times: number[] = [validatingEnd];
  const values: number[] = [0];
  let kind: BatchKind;
  if (rand() < o.stallShare) {
    kind = "stall-burst";
    const stall = run * uniform(rand, o.stallFraction);
    const burst = Math.min(run - stall, run * uniform(rand, o.burstFraction));
    const fromStart = rand() < o.stallFromStartShare;
    const before = fromStart ? 0 : run - stall - burst;
    const p0 = fromStart ? 0 : uniform(rand, [0.05, 0.6]);
    // [steady to p0] [flat at p0 for `stall`] [burst to 1]; a batch stalled from the start sits at
    // 0 until its burst, which then takes the rest of the run.
    const burstStart = validatingEnd + before + (fromStart ? run - burst : stall);
    times.push(validatingEnd + before, burstStart, inProgressEnd);
    values.push(p0, p0, 1);
  } else {
    kind = "steady";
    const segments = 3 + Math.floor(rand() * 6);
    const weights: number[] = [];
    const mass: number[] = [];
    let wSum = 0;
    let mSum = 0;
    for (let i = 0; i < segments; i++) {
      const w = uniform(rand, [0.6, 1.5]);
      const m = w * uniform(rand, o.steadyRate);
      weights.push(w);
      mass.push(m);
      wSum += w;
      mSum += m;
    }
    let t = validatingEnd;
    let p = 0;
    for (let i = 0; i < segments; i++) {
      t += (weights[i] / wSum) * run;
      p += mass[i] / mSum;
      times.push(i === segments - 1 ? inProgressEnd : t);
      values.push(i === segments - 1 ? 1 : p);
    }
  }
  return {
    kind,
    expiresAt: createdAt + Math.max(tail ? 3 * DAY : DAY, lengthMs),
    validatingEnd,
    inProgressEnd,
    endAt,
    curve: new Curve(times, values),
    terminal: "completed",
    finalizes: true,
  };
}

class Batch implements SimulatedBatch {
  readonly lengthMs: number;
  readonly kind: BatchKind;
  readonly expiresAt: number;
  readonly endAt: number;
  readonly terminalStatus: UnifiedStatus;
  constructor(
    readonly id: number,
    readonly reporting: ProgressReporting,
    readonly createdAt: number,
    readonly trackedAt: number,
    private readonly shape: Shape,
    private readonly totalRequests: number,
    private readonly failedShare: number,
  ) {
    this.kind = shape.kind;
    this.expiresAt = shape.expiresAt;
    this.endAt = shape.endAt;
    this.terminalStatus = shape.terminal;
    this.lengthMs = shape.endAt - createdAt;
  }

  observe(t: number): PollObservation {
    const { validatingEnd, inProgressEnd, endAt, curve, terminal, finalizes } = this.shape;
    if (t >= endAt) return this.report(t, terminal, terminal === "completed" ? 1 : curve.at(endAt));
    if (t < validatingEnd) return this.report(t, "validating", 0);
    if (t < inProgressEnd || !finalizes) return this.report(t, "in_progress", curve.at(t));
    return this.report(t, "finalizing", 1);
  }

  private report(at: number, status: UnifiedStatus, p: number): PollObservation {
    if (this.reporting === "none") return { at, status, requestCounts: null, progress: null };
    if (this.reporting === "fraction") return { at, status, progress: Math.floor(p * 1000) / 1000 };
    // Providers report a total of 0 until validation has counted the requests.
    const total = status === "validating" || (status === "failed" && p === 0) ? 0 : this.totalRequests;
    const done = Math.min(total, Math.floor(p * total + 1e-9));
    const failed = Math.floor(done * this.failedShare);
    return { at, status, requestCounts: { total, completed: done - failed, failed } };
  }
}

function makeBatch(id: number, rand: () => number, o: Required<WorkloadOptions>, epoch: number): SimulatedBatch {
  const trackedAt = epoch + Math.floor(rand() * 30 * DAY);
  const createdAt = trackedAt - Math.floor(rand() * MINUTE);
  const r = rand();
  const reporting: ProgressReporting =
    r < o.noProgressShare ? "none" : r < o.noProgressShare + o.fractionOnlyShare ? "fraction" : "counts";
  const totalRequests = Math.round(logUniform(rand, o.requestTotal));
  const failedShare = rand() * 0.04;
  const u = rand();
  const shape =
    u < o.earlyFailureShare
      ? earlyFailure(rand, createdAt, trackedAt)
      : u < o.earlyFailureShare + o.expiringShare
        ? expiring(rand, createdAt)
        : normal(rand, createdAt, u < o.earlyFailureShare + o.expiringShare + o.tailShare, o);
  return new Batch(id, reporting, createdAt, trackedAt, shape, totalRequests, failedShare);
}

/** Generates `count` batches from `seed`. The same arguments always give the same batches. */
export function generateWorkload(seed: number, count: number, options: WorkloadOptions = {}): SimulatedBatch[] {
  const o: Required<WorkloadOptions> = { ...DEFAULT_WORKLOAD, ...options };
  const rand = mulberry32(seed);
  const epoch = Date.UTC(2026, 0, 1);
  const batches: SimulatedBatch[] = [];
  for (let i = 0; i < count; i++) batches.push(makeBatch(i, rand, o, epoch));
  return batches;
}
