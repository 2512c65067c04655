/**
 * Polling economy: how many polls (and Inngest steps) each poll schedule spends per batch, and how
 * late it notices that a batch finished, over the same seeded simulated batches (bench/workload.ts).
 *
 *   npx tsx bench/polling-economy.ts --seed 1 --batches 10000 [--variant NAME|all] [--json]
 *
 * `--variant all` runs every workload variant (WORKLOAD_VARIANTS) and prints one line each.
 *
 * Strategies (all see the batch through SimulatedBatch.observe and stop at the first terminal
 * observation; detection delay = that poll's time − the batch's end):
 * - batchwatch:        lib/polling.ts nextPollDelay, first poll at tracking.
 * - batchwatch-native: the same with nativeSignals: true (detection would come from the webhook;
 *                      only the safety-net polls matter, its delay is reported for information).
 * - cron-60s:          a managed poller firing every 60 s; the first poll lands uniformly in the
 *                      first minute after tracking.
 * - sleep-30s:         a `step.sleep("30s")` loop, first poll at tracking.
 * - exp-backoff:       first poll at tracking, then waits of 30 s doubling to a cap of 1 h.
 * - oracle:            one poll exactly at the end.
 *
 * Each poll is one step.run + one step.sleep = 2 Inngest steps; a run hands over to a fresh run
 * (continue-as-new) every 400 polls, well below Inngest's 1,000-step limit.
 *
 * The simulation jumps from poll to poll (never second by second): 10,000 batches take about a
 * second in all.
 */
import { pathToFileURL } from "node:url";
import { nextPollDelay, type PollHistory, type PollObservation } from "../lib/polling";
import { generateWorkload, mulberry32, WORKLOAD_VARIANTS, type SimulatedBatch, type WorkloadOptions } from "./workload";

export const STEPS_PER_POLL = 2;
export const POLLS_PER_RUN = 400;
export const INNGEST_MAX_STEPS_PER_RUN = 1_000;
/** Exponential backoff baseline: 30 s doubling to a cap of 1 h. */
export const EXP_BACKOFF = { initialMs: 30_000, factor: 2, capMs: 3_600_000 } as const;
/** Guard against a runaway schedule (a bug would otherwise hang the benchmark). */
const MAX_POLLS_PER_BATCH = 100_000;

export type StrategyName = "batchwatch" | "batchwatch-native" | "cron-60s" | "sleep-30s" | "exp-backoff" | "oracle";

export interface StrategyStats {
  description: string;
  polls: { mean: number; p95: number; max: number };
  /** Polls per batch relative to the fixed 60 s poll (cron-60s), by mean. */
  pollsVsFixed60s: number;
  inngest: { maxStepsPerRun: number; runsPerBatchMean: number; runsPerBatchMax: number };
  /** Seconds from the batch's end to the first poll seeing it terminal. */
  detectionDelaySeconds: { mean: number; p50: number; p95: number; p99: number; max: number };
  /** Detection delay as a fraction of the batch's length (createdAt → end). */
  detectionDelayFractionOfLength: { p50: number; p95: number };
}

export interface PollingEconomyTarget {
  name: string;
  measured: number;
  threshold: number;
  met: boolean;
}

export interface PollingEconomyReport {
  seed: number;
  batches: number;
  variant: string;
  workload: {
    meanLengthHours: number;
    medianLengthHours: number;
    maxLengthHours: number;
    kinds: Record<string, number>;
  };
  strategies: Record<StrategyName, StrategyStats>;
  targets: PollingEconomyTarget[];
  allTargetsMet: boolean;
  elapsedMs: number;
}

export interface PollingEconomyOptions {
  seed: number;
  batches: number;
  /** A name from WORKLOAD_VARIANTS (default "default"), or explicit options. */
  variant?: string;
  workload?: WorkloadOptions;
}

interface Outcome {
  polls: number;
  delayMs: number;
}

type Strategy = (batch: SimulatedBatch, rand: () => number) => Outcome;

/** A fixed-interval schedule, computed in closed form. */
function fixedInterval(batch: SimulatedBatch, firstAt: number, intervalMs: number): Outcome {
  if (firstAt >= batch.endAt) return { polls: 1, delayMs: firstAt - batch.endAt };
  const k = Math.ceil((batch.endAt - firstAt) / intervalMs);
  return { polls: k + 1, delayMs: firstAt + k * intervalMs - batch.endAt };
}

/** Drives a delay function poll by poll. */
function drive(batch: SimulatedBatch, firstAt: number, next: (history: PollHistory, polls: number) => number, native = false): Outcome {
  const observations: PollObservation[] = [];
  const history: PollHistory = {
    trackedAt: batch.trackedAt,
    now: firstAt,
    nativeSignals: native,
    createdAt: batch.createdAt,
    expiresAt: batch.expiresAt,
    observations,
  };
  let t = firstAt;
  for (let polls = 1; polls <= MAX_POLLS_PER_BATCH; polls++) {
    const obs = batch.observe(t);
    if (t >= batch.endAt) return { polls, delayMs: t - batch.endAt };
    observations.push(obs);
    history.now = t;
    const delay = next(history, polls);
    if (!(delay >= 1)) throw new Error(`schedule returned ${delay} for batch ${batch.id}`);
    t += delay;
  }
  throw new Error(`batch ${batch.id}: more than ${MAX_POLLS_PER_BATCH} polls`);
}

const STRATEGIES: Record<StrategyName, { description: string; run: Strategy }> = {
  batchwatch: {
    description: "lib/polling.ts nextPollDelay (first poll at tracking)",
    run: (b) => drive(b, b.trackedAt, (h) => nextPollDelay(h)),
  },
  "batchwatch-native": {
    description: "nextPollDelay with nativeSignals: true (safety net behind a provider webhook)",
    run: (b) => drive(b, b.trackedAt, (h) => nextPollDelay(h), true),
  },
  "cron-60s": {
    description: "managed poller every 60 s, first poll uniform in the first minute",
    run: (b, rand) => fixedInterval(b, b.trackedAt + Math.floor(rand() * 60_000), 60_000),
  },
  "sleep-30s": {
    description: 'step.sleep("30s") loop, first poll at tracking',
    run: (b) => fixedInterval(b, b.trackedAt, 30_000),
  },
  "exp-backoff": {
    description: "exponential backoff 30 s ×2 to a 1 h cap, first poll at tracking",
    run: (b) =>
      drive(b, b.trackedAt, (_h, polls) =>
        Math.min(EXP_BACKOFF.capMs, EXP_BACKOFF.initialMs * EXP_BACKOFF.factor ** Math.min(polls - 1, 30)),
      ),
  },
  oracle: {
    description: "one poll exactly at the end",
    run: (b) => ({ polls: 1, delayMs: Math.max(0, b.trackedAt - b.endAt) }),
  },
};

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

const sortedCopy = (xs: number[]) => Float64Array.from(xs).sort();
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

function summarise(description: string, outcomes: Outcome[], batches: SimulatedBatch[]): Omit<StrategyStats, "pollsVsFixed60s"> {
  const polls = outcomes.map((o) => o.polls);
  const delays = outcomes.map((o) => o.delayMs / 1000);
  const fractions = outcomes.map((o, i) => o.delayMs / Math.max(1, batches[i].lengthMs));
  const sp = sortedCopy(polls);
  const sd = sortedCopy(delays);
  const sf = sortedCopy(fractions);
  const runs = polls.map((n) => Math.ceil(n / POLLS_PER_RUN));
  return {
    description,
    polls: { mean: round(mean(polls), 2), p95: percentile(sp, 0.95), max: sp[sp.length - 1] ?? 0 },
    inngest: {
      maxStepsPerRun: STEPS_PER_POLL * Math.min(POLLS_PER_RUN, sp[sp.length - 1] ?? 0),
      runsPerBatchMean: round(mean(runs), 3),
      runsPerBatchMax: Math.max(0, ...runs),
    },
    detectionDelaySeconds: {
      mean: round(mean(delays), 1),
      p50: round(percentile(sd, 0.5), 1),
      p95: round(percentile(sd, 0.95), 1),
      p99: round(percentile(sd, 0.99), 1),
      max: round(sd[sd.length - 1] ?? 0, 1),
    },
    detectionDelayFractionOfLength: { p50: round(percentile(sf, 0.5), 5), p95: round(percentile(sf, 0.95), 5) },
  };
}

/** Runs every strategy over the same `batches` seeded batches. */
export function runPollingEconomy(options: PollingEconomyOptions): PollingEconomyReport {
  const started = performance.now();
  const { seed, batches: count } = options;
  const variant = options.variant ?? "default";
  const workloadOptions = options.workload ?? WORKLOAD_VARIANTS[variant];
  if (!workloadOptions) throw new Error(`unknown workload variant "${variant}" (known: ${Object.keys(WORKLOAD_VARIANTS).join(", ")})`);
  const batches = generateWorkload(seed, count, workloadOptions);

  const strategies = {} as Record<StrategyName, StrategyStats>;
  const results = {} as Record<StrategyName, Omit<StrategyStats, "pollsVsFixed60s">>;
  for (const [name, s] of Object.entries(STRATEGIES) as [StrategyName, (typeof STRATEGIES)[StrategyName]][]) {
    const rand = mulberry32(seed ^ 0x9e3779b9); // the cron phase, independent of the workload stream
    results[name] = summarise(s.description, batches.map((b) => s.run(b, rand)), batches);
  }
  const fixed = results["cron-60s"];
  for (const name of Object.keys(results) as StrategyName[]) {
    strategies[name] = { ...results[name], pollsVsFixed60s: round(results[name].polls.mean / fixed.polls.mean, 4) };
  }

  const bw = strategies.batchwatch;
  const native = strategies["batchwatch-native"];
  const targets: PollingEconomyTarget[] = [
    {
      name: "batchwatch mean polls ≤ 1/10 of the fixed 60 s poll",
      measured: bw.pollsVsFixed60s,
      threshold: 0.1,
      met: bw.pollsVsFixed60s <= 0.1,
    },
    {
      name: "batchwatch detection delay p95 (s) ≤ the fixed 60 s poll's p95",
      measured: bw.detectionDelaySeconds.p95,
      threshold: fixed.detectionDelaySeconds.p95,
      met: bw.detectionDelaySeconds.p95 <= fixed.detectionDelaySeconds.p95,
    },
    {
      name: "batchwatch (nativeSignals) mean polls ≤ 1/50 of the fixed 60 s poll",
      measured: native.pollsVsFixed60s,
      threshold: 0.02,
      met: native.pollsVsFixed60s <= 0.02,
    },
    {
      name: "Inngest steps in one run < 1,000",
      measured: Math.max(...Object.values(strategies).map((s) => s.inngest.maxStepsPerRun)),
      threshold: INNGEST_MAX_STEPS_PER_RUN,
      met: Object.values(strategies).every((s) => s.inngest.maxStepsPerRun < INNGEST_MAX_STEPS_PER_RUN),
    },
  ];

  const lengthsH = sortedCopy(batches.map((b) => b.lengthMs / 3_600_000));
  const kinds: Record<string, number> = {};
  for (const b of batches) kinds[b.kind] = (kinds[b.kind] ?? 0) + 1;
  return {
    seed,
    batches: count,
    variant,
    workload: {
      meanLengthHours: round(mean(Array.from(lengthsH)), 2),
      medianLengthHours: round(percentile(lengthsH, 0.5), 2),
      maxLengthHours: round(lengthsH[lengthsH.length - 1] ?? 0, 2),
      kinds,
    },
    strategies,
    targets,
    allTargetsMet: targets.every((t) => t.met),
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** A plain-text table of a report. */
export function formatPollingEconomy(r: PollingEconomyReport): string {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const lines = [
    `polling economy — seed ${r.seed}, ${r.batches} batches, workload "${r.variant}" ` +
      `(mean length ${r.workload.meanLengthHours} h, median ${r.workload.medianLengthHours} h), ${r.elapsedMs} ms`,
    `${"strategy".padEnd(18)}${pad("polls mean", 11)}${pad("p95", 7)}${pad("max", 7)}${pad("vs 60s", 8)}` +
      `${pad("steps/run", 10)}${pad("runs max", 9)}${pad("delay p50", 10)}${pad("p95", 8)}${pad("p99", 9)}` +
      `${pad("p50/len", 9)}${pad("p95/len", 9)}`,
  ];
  for (const [name, s] of Object.entries(r.strategies)) {
    lines.push(
      `${name.padEnd(18)}${pad(s.polls.mean.toFixed(1), 11)}${pad(s.polls.p95, 7)}${pad(s.polls.max, 7)}` +
        `${pad(s.pollsVsFixed60s.toFixed(3), 8)}${pad(s.inngest.maxStepsPerRun, 10)}${pad(s.inngest.runsPerBatchMax, 9)}` +
        `${pad(s.detectionDelaySeconds.p50.toFixed(1), 10)}${pad(s.detectionDelaySeconds.p95.toFixed(1), 8)}` +
        `${pad(s.detectionDelaySeconds.p99.toFixed(1), 9)}${pad(s.detectionDelayFractionOfLength.p50.toFixed(4), 9)}` +
        `${pad(s.detectionDelayFractionOfLength.p95.toFixed(4), 9)}`,
    );
  }
  lines.push("targets:");
  for (const t of r.targets) lines.push(`  [${t.met ? "met" : "MISSED"}] ${t.name}: ${t.measured} (threshold ${t.threshold})`);
  return lines.join("\n");
}

/** One line per workload variant: the targets' measurements. */
export function formatVariantSummary(reports: PollingEconomyReport[]): string {
  const pad = (x: string | number, n: number) => String(x).padStart(n);
  const lines = [
    `${"variant".padEnd(18)}${pad("polls/60s", 10)}${pad("p95 s", 8)}${pad("60s p95", 9)}${pad("native/60s", 11)}${pad("targets", 9)}`,
  ];
  for (const r of reports) {
    const s = r.strategies;
    lines.push(
      `${r.variant.padEnd(18)}${pad(s.batchwatch.pollsVsFixed60s.toFixed(3), 10)}${pad(s.batchwatch.detectionDelaySeconds.p95.toFixed(1), 8)}` +
        `${pad(s["cron-60s"].detectionDelaySeconds.p95.toFixed(1), 9)}${pad(s["batchwatch-native"].pollsVsFixed60s.toFixed(4), 11)}` +
        `${pad(r.allTargetsMet ? "met" : "MISSED", 9)}`,
    );
  }
  return lines.join("\n");
}

function parseArgs(argv: string[]): PollingEconomyOptions & { json: boolean } {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seed = Number(get("--seed") ?? 1);
  const batches = Number(get("--batches") ?? 10_000);
  if (!Number.isInteger(seed) || !Number.isInteger(batches) || batches < 1) {
    throw new Error("usage: tsx bench/polling-economy.ts [--seed N] [--batches N] [--variant NAME] [--json]");
  }
  return { seed, batches, variant: get("--variant") ?? "default", json: argv.includes("--json") };
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  const { json, ...options } = parseArgs(process.argv.slice(2));
  if (options.variant === "all") {
    const reports = Object.keys(WORKLOAD_VARIANTS).map((variant) => runPollingEconomy({ ...options, variant }));
    console.log(json ? JSON.stringify(reports, null, 2) : `seed ${options.seed}, ${options.batches} batches each\n${formatVariantSummary(reports)}`);
  } else {
    const report = runPollingEconomy(options);
    console.log(json ? JSON.stringify(report, null, 2) : formatPollingEconomy(report));
    process.exitCode = report.allTargetsMet ? 0 : 1;
  }
}
