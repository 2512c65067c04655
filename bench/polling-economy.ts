/**
 * Polling economy: how many polls (and Inngest steps) each poll schedule spends per batch, and how
 * late it notices that a batch finished, over the same seeded simulated batches
 * (fixtures/polling/workload.ts), driven as the watcher drives them (fixtures/polling/simulate.ts).
 *
 *   npx tsx bench/polling-economy.ts [--seeds 1,2,3] [--batches 4000] [--variant NAME|bench|all] [--json]
 *
 * `--batches` is per seed; the seeds' batches are pooled into one table per workload. `--variant
 * bench` (the default) runs the workloads `npm run bench` reports (BENCH_WORKLOADS), `all` every
 * variant in WORKLOAD_VARIANTS, one summary line each after the tables.
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
 * The simulation jumps from poll to poll (never second by second).
 */
import { pathToFileURL } from "node:url";
import { nextPollDelay } from "../lib/polling";
import { fixedIntervalOutcome, simulateSchedule, type PollOutcome } from "../fixtures/polling/simulate";
import {
  BENCH_WORKLOADS,
  generateWorkload,
  mulberry32,
  WORKLOAD_VARIANTS,
  type SimulatedBatch,
  type WorkloadFamily,
  type WorkloadOptions,
} from "../fixtures/polling/workload";
import { percentile, round, sortedCopy } from "./lib/stats";

export const STEPS_PER_POLL = 2;
export const POLLS_PER_RUN = 400;
export const INNGEST_MAX_STEPS_PER_RUN = 1_000;
/** Exponential backoff baseline: 30 s doubling to a cap of 1 h. */
export const EXP_BACKOFF = { initialMs: 30_000, factor: 2, capMs: 3_600_000 } as const;
/** What `npm run bench` runs: every bench workload over these seeds, this many batches each. */
export const BENCH_SEEDS: readonly number[] = [1, 2, 3];
export const BENCH_BATCHES_PER_SEED = 4_000;

/** The issue's goals (#16), by workload family. */
export const GOALS = {
  steady: { maxPollsVsFixed60s: 1 / 10, aimPollsVsFixed60s: 1 / 15 },
  bursty: { maxPollsVsFixed60s: 1 / 8, maxDelayP99Seconds: 120, maxPollsPerBatch: 500 },
  nativeMaxPollsVsFixed60s: 1 / 50,
} as const;

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
  /** "≤" or "<". */
  comparison: string;
  met: boolean;
}

export interface PollingEconomyReport {
  seeds: number[];
  /** Batches in all (per seed × seeds). */
  batches: number;
  variant: string;
  family: WorkloadFamily;
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
  /** One seed, or several whose batches are pooled. */
  seed?: number;
  seeds?: readonly number[];
  /** Batches per seed. */
  batches: number;
  /** A name from WORKLOAD_VARIANTS (default "default"), or explicit options. */
  variant?: string;
  workload?: WorkloadOptions;
  /** Which goals apply (default: the bench workload's family, else "bursty" for a bursty model). */
  family?: WorkloadFamily;
}

type Strategy = (batch: SimulatedBatch, rand: () => number) => PollOutcome;

const STRATEGIES: Record<StrategyName, { description: string; run: Strategy }> = {
  batchwatch: {
    description: "lib/polling.ts nextPollDelay (first poll at tracking)",
    run: (b) => simulateSchedule(b, (h) => nextPollDelay(h)),
  },
  "batchwatch-native": {
    description: "nextPollDelay with nativeSignals: true (safety net behind a provider webhook)",
    run: (b) => simulateSchedule(b, (h) => nextPollDelay(h), { nativeSignals: true }),
  },
  "cron-60s": {
    description: "managed poller every 60 s, first poll uniform in the first minute",
    run: (b, rand) => fixedIntervalOutcome(b, b.trackedAt + Math.floor(rand() * 60_000), 60_000),
  },
  "sleep-30s": {
    description: 'step.sleep("30s") loop, first poll at tracking',
    run: (b) => fixedIntervalOutcome(b, b.trackedAt, 30_000),
  },
  "exp-backoff": {
    description: "exponential backoff 30 s ×2 to a 1 h cap, first poll at tracking",
    run: (b) =>
      simulateSchedule(b, (_h, polls) => Math.min(EXP_BACKOFF.capMs, EXP_BACKOFF.initialMs * EXP_BACKOFF.factor ** Math.min(polls - 1, 30))),
  },
  oracle: {
    description: "one poll exactly at the end",
    run: (b) => ({ polls: 1, delayMs: Math.max(0, b.trackedAt - b.endAt) }),
  },
};

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function summarise(description: string, outcomes: PollOutcome[], batches: SimulatedBatch[]): Omit<StrategyStats, "pollsVsFixed60s"> {
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

function target(name: string, measured: number, comparison: "≤" | "<", threshold: number): PollingEconomyTarget {
  return { name, measured, threshold: round(threshold, 4), comparison, met: comparison === "<" ? measured < threshold : measured <= threshold };
}

/** The goals a report is held to: the family's, then the ones every workload shares. */
function targetsFor(family: WorkloadFamily, s: Record<StrategyName, StrategyStats>): PollingEconomyTarget[] {
  const bw = s.batchwatch;
  const fixed = s["cron-60s"];
  const goal = family === "bursty" ? GOALS.bursty : GOALS.steady;
  const targets = [
    target(`batchwatch mean polls ${family === "bursty" ? "≤ 1/8" : "≤ 1/10"} of the fixed 60 s poll`, bw.pollsVsFixed60s, "≤", goal.maxPollsVsFixed60s),
    target("batchwatch detection delay p95 (s) ≤ the fixed 60 s poll's p95", bw.detectionDelaySeconds.p95, "≤", fixed.detectionDelaySeconds.p95),
  ];
  if (family === "bursty") {
    targets.push(
      target("batchwatch detection delay p99 (s) < 120", bw.detectionDelaySeconds.p99, "<", GOALS.bursty.maxDelayP99Seconds),
      target("batchwatch polls for any one batch ≤ 500", bw.polls.max, "≤", GOALS.bursty.maxPollsPerBatch),
    );
  }
  targets.push(
    target("batchwatch (nativeSignals) mean polls ≤ 1/50 of the fixed 60 s poll", s["batchwatch-native"].pollsVsFixed60s, "≤", GOALS.nativeMaxPollsVsFixed60s),
    target(
      "Inngest steps in one run < 1,000",
      Math.max(...Object.values(s).map((x) => x.inngest.maxStepsPerRun)),
      "<",
      INNGEST_MAX_STEPS_PER_RUN,
    ),
  );
  return targets;
}

/** Runs every strategy over the same seeded batches (the seeds' batches pooled). */
export function runPollingEconomy(options: PollingEconomyOptions): PollingEconomyReport {
  const started = performance.now();
  const seeds = [...(options.seeds ?? [options.seed ?? 1])];
  const variant = options.variant ?? "default";
  const workloadOptions = options.workload ?? WORKLOAD_VARIANTS[variant];
  if (!workloadOptions) throw new Error(`unknown workload variant "${variant}" (known: ${Object.keys(WORKLOAD_VARIANTS).join(", ")})`);
  const family =
    options.family ?? BENCH_WORKLOADS.find((w) => w.variant === variant)?.family ?? (workloadOptions.progressModel === "bursts" ? "bursty" : "steady");

  const batches: SimulatedBatch[] = [];
  const outcomes = {} as Record<StrategyName, PollOutcome[]>;
  for (const name of Object.keys(STRATEGIES) as StrategyName[]) outcomes[name] = [];
  for (const seed of seeds) {
    const seeded = generateWorkload(seed, options.batches, workloadOptions);
    batches.push(...seeded);
    for (const [name, s] of Object.entries(STRATEGIES) as [StrategyName, (typeof STRATEGIES)[StrategyName]][]) {
      const rand = mulberry32(seed ^ 0x9e3779b9); // the cron phase, independent of the workload stream
      for (const b of seeded) outcomes[name].push(s.run(b, rand));
    }
  }

  const results = {} as Record<StrategyName, Omit<StrategyStats, "pollsVsFixed60s">>;
  for (const name of Object.keys(STRATEGIES) as StrategyName[]) results[name] = summarise(STRATEGIES[name].description, outcomes[name], batches);
  const strategies = {} as Record<StrategyName, StrategyStats>;
  for (const name of Object.keys(results) as StrategyName[]) {
    strategies[name] = { ...results[name], pollsVsFixed60s: round(results[name].polls.mean / results["cron-60s"].polls.mean, 4) };
  }
  const targets = targetsFor(family, strategies);

  const lengthsH = sortedCopy(batches.map((b) => b.lengthMs / 3_600_000));
  const kinds: Record<string, number> = {};
  for (const b of batches) kinds[b.kind] = (kinds[b.kind] ?? 0) + 1;
  return {
    seeds,
    batches: batches.length,
    variant,
    family,
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

/** Every workload `npm run bench` reports, over BENCH_SEEDS. */
export function runBenchWorkloads(batchesPerSeed = BENCH_BATCHES_PER_SEED, onReport?: (r: PollingEconomyReport) => void): PollingEconomyReport[] {
  return BENCH_WORKLOADS.map(({ variant, family }) => {
    const report = runPollingEconomy({ seeds: BENCH_SEEDS, batches: batchesPerSeed, variant, family });
    onReport?.(report);
    return report;
  });
}

/** A plain-text table of a report. */
export function formatPollingEconomy(r: PollingEconomyReport): string {
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const lines = [
    `polling economy — workload "${r.variant}" (${r.family}), seeds ${r.seeds.join(", ")}, ${r.batches} batches ` +
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
  for (const t of r.targets) lines.push(`  [${t.met ? "met" : "MISSED"}] ${t.name}: ${t.measured} (${t.comparison} ${t.threshold})`);
  return lines.join("\n");
}

/** One line per workload: batchwatch against the fixed 60 s poll. */
export function formatWorkloadSummary(reports: PollingEconomyReport[]): string {
  const pad = (x: string | number, n: number) => String(x).padStart(n);
  const lines = [
    `${"workload".padEnd(19)}${pad("family", 7)}${pad("polls", 8)}${pad("60s", 8)}${pad("fewer", 7)}${pad("max", 6)}` +
      `${pad("p95 s", 7)}${pad("60s p95", 8)}${pad("p99 s", 8)}${pad("native/60s", 11)}${pad("targets", 9)}`,
  ];
  for (const r of reports) {
    const s = r.strategies;
    const bw = s.batchwatch;
    lines.push(
      `${r.variant.padEnd(19)}${pad(r.family, 7)}${pad(bw.polls.mean.toFixed(1), 8)}${pad(s["cron-60s"].polls.mean.toFixed(1), 8)}` +
        `${pad(`${(1 / bw.pollsVsFixed60s).toFixed(1)}×`, 7)}${pad(bw.polls.max, 6)}${pad(bw.detectionDelaySeconds.p95.toFixed(1), 7)}` +
        `${pad(s["cron-60s"].detectionDelaySeconds.p95.toFixed(1), 8)}${pad(bw.detectionDelaySeconds.p99.toFixed(1), 8)}` +
        `${pad(s["batchwatch-native"].pollsVsFixed60s.toFixed(4), 11)}${pad(r.allTargetsMet ? "met" : `${r.targets.filter((t) => !t.met).length} missed`, 9)}`,
    );
  }
  return lines.join("\n");
}

function parseArgs(argv: string[]) {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seeds = (get("--seeds") ?? get("--seed") ?? BENCH_SEEDS.join(",")).split(",").map(Number);
  const batches = Number(get("--batches") ?? BENCH_BATCHES_PER_SEED);
  if (!seeds.every(Number.isInteger) || !Number.isInteger(batches) || batches < 1) {
    throw new Error("usage: tsx bench/polling-economy.ts [--seeds 1,2,3] [--batches N] [--variant NAME|bench|all] [--json]");
  }
  return { seeds, batches, variant: get("--variant") ?? "bench", json: argv.includes("--json") };
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  const { json, variant, ...options } = parseArgs(process.argv.slice(2));
  const variants =
    variant === "bench" ? BENCH_WORKLOADS.map((w) => w.variant) : variant === "all" ? Object.keys(WORKLOAD_VARIANTS) : [variant];
  const reports = variants.map((v) => {
    const report = runPollingEconomy({ ...options, variant: v });
    if (!json) console.log(`${formatPollingEconomy(report)}\n`);
    return report;
  });
  console.log(json ? JSON.stringify(reports, null, 2) : formatWorkloadSummary(reports));
}
