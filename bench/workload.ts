/**
 * A seeded simulator of LLM batch jobs, used to measure poll schedules (see
 * bench/polling-economy.ts). Everything is derived from one 32-bit seed through mulberry32, so a
 * (seed, count, options) triple always yields the same batches.
 *
 * Shape of the default workload (every share and range is an option, so variants can be run):
 * - lengths (createdAt → terminal) log-uniform from 2 minutes to 24 hours, plus a tail (~10%)
 *   log-uniform from 1 to 3 days;
 * - ~3% fail within minutes (some while validating, some just after starting);
 * - ~1% never finish and flip to `expired` shortly after `expiresAt`;
 * - the rest run `validating` (seconds to 10 minutes) → `in_progress` → `finalizing` → `completed`.
 *   In progress, ~65% move steadily (piecewise-linear with per-segment rate noise) and ~35%
 *   stall (no count change for 20–70% of their run, sometimes from the very start) and then
 *   burst to completion in a few % of their run. Finalizing lasts 1–5% of the length, at
 *   least 30 seconds;
 * - progress is reported as request counts (75%), as a `progress` fraction only (20%), or not at
 *   all (5%);
 * - createdAt is 0–60 s before trackedAt; expiresAt = createdAt + 24 h (72 h for tail batches),
 *   and the window is always at least the batch's length.
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
  /** The instant the batch becomes terminal; observe(t) is terminal iff t >= endAt. */
  readonly endAt: number;
  /** endAt - createdAt. */
  readonly lengthMs: number;
  readonly terminalStatus: UnifiedStatus;
  /** What a poll at time t would report. */
  observe(t: number): PollObservation;
}

export interface WorkloadOptions {
  /** Share of 1–3 day batches (default 0.10). */
  tailShare?: number;
  /** Share failing within minutes (default 0.03). */
  earlyFailureShare?: number;
  /** Share that never finishes and expires (default 0.01). */
  expiringShare?: number;
  /** Among normal batches, share that stall and then burst (default 0.35). */
  stallShare?: number;
  /** Stall duration as a fraction of the in-progress time (default [0.2, 0.7]). */
  stallFraction?: [number, number];
  /** Burst duration as a fraction of the in-progress time (default [0.02, 0.10]). */
  burstFraction?: [number, number];
  /** Finalizing duration as a fraction of the length (default [0.01, 0.05]), at least 30 s. */
  finalizingFraction?: [number, number];
  /** Share reporting a progress fraction only (default 0.2) and nothing at all (default 0.05). */
  fractionOnlyShare?: number;
  noProgressShare?: number;
  /** Shortest and longest core length (default 2 min, 24 h). */
  minLengthMs?: number;
  maxLengthMs?: number;
}

export const DEFAULT_WORKLOAD: Required<WorkloadOptions> = {
  tailShare: 0.1,
  earlyFailureShare: 0.03,
  expiringShare: 0.01,
  stallShare: 0.35,
  stallFraction: [0.2, 0.7],
  burstFraction: [0.02, 0.1],
  finalizingFraction: [0.01, 0.05],
  fractionOnlyShare: 0.2,
  noProgressShare: 0.05,
  minLengthMs: 2 * MINUTE,
  maxLengthMs: DAY,
};

/** Named workload variants used to check that the policy is not tuned to one shape. */
export const WORKLOAD_VARIANTS: Record<string, WorkloadOptions> = {
  default: {},
  "stall-heavy": { stallShare: 0.6, stallFraction: [0.3, 0.85], burstFraction: [0.01, 0.05] },
  "short-finalizing": { finalizingFraction: [0.005, 0.02] },
  "all-counts": { fractionOnlyShare: 0, noProgressShare: 0 },
  "blind": { fractionOnlyShare: 0, noProgressShare: 0.6 },
  "no-tail": { tailShare: 0 },
  "failure-heavy": { earlyFailureShare: 0.06, expiringShare: 0.03 },
};

const logUniform = (rand: () => number, lo: number, hi: number) => lo * Math.exp(rand() * Math.log(hi / lo));
const uniform = (rand: () => number, [lo, hi]: [number, number]) => lo + rand() * (hi - lo);

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

interface Phases {
  validatingEnd: number;
  inProgressEnd: number; // finalizing starts here (or failure/expiry happens at endAt)
  endAt: number;
  curve: Curve;
  terminal: UnifiedStatus;
  finalizes: boolean;
}

function makeBatch(id: number, rand: () => number, opts: Required<WorkloadOptions>, epoch: number): SimulatedBatch {
  const trackedAt = epoch + Math.floor(rand() * 30 * DAY);
  const createdAt = trackedAt - Math.floor(rand() * MINUTE);
  const u = rand();
  const reporting: ProgressReporting =
    rand() < opts.noProgressShare ? "none" : rand() < opts.fractionOnlyShare / (1 - opts.noProgressShare) ? "fraction" : "counts";
  const totalRequests = Math.round(logUniform(rand, 5, 50_000));
  const failedShare = rand() * 0.04;

  let kind: BatchKind;
  let phases: Phases;
  let expiresAt: number;

  if (u < opts.earlyFailureShare) {
    kind = "early-failure";
    expiresAt = createdAt + DAY;
    // Fails 20 s – 8 min after creation, but never before tracking starts.
    const endAt = Math.max(trackedAt + SECOND, createdAt + Math.round(logUniform(rand, 20 * SECOND, 8 * MINUTE)));
    const failsValidating = rand() < 0.6;
    const validatingEnd = failsValidating ? endAt : createdAt + Math.round((endAt - createdAt) * uniform(rand, [0.2, 0.6]));
    const p = failsValidating ? 0 : uniform(rand, [0, 0.05]);
    phases = {
      validatingEnd,
      inProgressEnd: endAt,
      endAt,
      curve: new Curve([validatingEnd, endAt], [0, p]),
      terminal: "failed",
      finalizes: false,
    };
  } else if (u < opts.earlyFailureShare + opts.expiringShare) {
    kind = "expiring";
    expiresAt = createdAt + DAY;
    const validatingEnd = createdAt + Math.round(uniform(rand, [5 * SECOND, 2 * MINUTE]));
    const endAt = expiresAt + Math.round(rand() * 20 * SECOND);
    const reached = uniform(rand, [0, 0.95]);
    const stallAt = validatingEnd + (expiresAt - validatingEnd) * uniform(rand, [0.1, 0.9]);
    phases = {
      validatingEnd,
      inProgressEnd: endAt,
      endAt,
      curve: new Curve([validatingEnd, stallAt, endAt], [0, reached, reached]),
      terminal: "expired",
      finalizes: false,
    };
  } else {
    const tail = u < opts.earlyFailureShare + opts.expiringShare + opts.tailShare;
    const lengthMs = Math.round(tail ? logUniform(rand, DAY, 3 * DAY) : logUniform(rand, opts.minLengthMs, opts.maxLengthMs));
    expiresAt = createdAt + Math.max(tail ? 3 * DAY : DAY, lengthMs);
    const endAt = createdAt + lengthMs;
    const finalizing = Math.min(0.4 * lengthMs, Math.max(30 * SECOND, lengthMs * uniform(rand, opts.finalizingFraction)));
    const validating = Math.min(0.1 * lengthMs, 5 * SECOND + rand() * Math.min(10 * MINUTE, 0.02 * lengthMs));
    const validatingEnd = createdAt + Math.round(validating);
    const inProgressEnd = endAt - Math.round(finalizing);
    const run = inProgressEnd - validatingEnd;
    const times: number[] = [validatingEnd];
    const values: number[] = [0];
    if (rand() < opts.stallShare) {
      kind = "stall-burst";
      const stall = run * uniform(rand, opts.stallFraction);
      const burst = run * uniform(rand, opts.burstFraction);
      const before = Math.max(0, run - stall - burst);
      // A third stall from the very start (queued, then everything at once); the rest after some progress.
      const p0 = rand() < 1 / 3 ? 0 : uniform(rand, [0.05, 0.6]);
      const stallStart = validatingEnd + before;
      times.push(stallStart, stallStart + stall, inProgressEnd);
      values.push(p0, p0, 1);
    } else {
      kind = "steady";
      // 3–8 segments whose rates vary by up to ~2.5x: steady on average, noisy in detail.
      const segments = 3 + Math.floor(rand() * 6);
      const weights = Array.from({ length: segments }, () => uniform(rand, [0.6, 1.5]));
      const rates = Array.from({ length: segments }, () => uniform(rand, [0.6, 1.5]));
      const wSum = weights.reduce((a, b) => a + b, 0);
      const mass = weights.map((w, i) => (w / wSum) * run * rates[i]);
      const mSum = mass.reduce((a, b) => a + b, 0);
      let t = validatingEnd;
      let p = 0;
      for (let i = 0; i < segments; i++) {
        t += (weights[i] / wSum) * run;
        p += mass[i] / mSum;
        times.push(i === segments - 1 ? inProgressEnd : t);
        values.push(i === segments - 1 ? 1 : p);
      }
    }
    phases = { validatingEnd, inProgressEnd, endAt, curve: new Curve(times, values), terminal: "completed", finalizes: true };
  }

  const { validatingEnd, inProgressEnd, endAt, curve, terminal, finalizes } = phases;
  const report = (status: UnifiedStatus, p: number, at: number): PollObservation => {
    const total = status === "validating" || (status === "failed" && p === 0) ? 0 : totalRequests;
    const done = Math.min(total, Math.floor(p * total + 1e-9));
    const failed = Math.floor(done * failedShare);
    if (reporting === "none") return { at, status, requestCounts: null, progress: null };
    if (reporting === "fraction") return { at, status, progress: Math.floor(p * 1000) / 1000 };
    return { at, status, requestCounts: { total, completed: done - failed, failed } };
  };
  return {
    id,
    kind,
    reporting,
    createdAt,
    trackedAt,
    expiresAt,
    endAt,
    lengthMs: endAt - createdAt,
    terminalStatus: terminal,
    observe(t: number): PollObservation {
      if (t >= endAt) return report(terminal, terminal === "completed" ? 1 : curve.at(endAt), t);
      if (t < validatingEnd) return report("validating", 0, t);
      if (t < inProgressEnd || !finalizes) return report("in_progress", curve.at(t), t);
      return report("finalizing", 1, t);
    },
  };
}

/** Generates `count` batches from `seed`. The same arguments always give the same batches. */
export function generateWorkload(seed: number, count: number, options: WorkloadOptions = {}): SimulatedBatch[] {
  const opts: Required<WorkloadOptions> = { ...DEFAULT_WORKLOAD, ...options };
  const rand = mulberry32(seed);
  const epoch = Date.UTC(2026, 0, 1);
  return Array.from({ length: count }, (_, i) => makeBatch(i, rand, opts, epoch));
}
