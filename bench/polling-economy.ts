/**
 * Polling economy: how many polls (and Inngest steps) each poll schedule spends per batch, and how
 * late it notices that a batch finished, over the same seeded simulated batches
 * (fixtures/polling/workload.ts), driven as the watcher drives them (fixtures/polling/simulate.ts).
 *
 *   npx tsx bench/polling-economy.ts [--seeds 1,2,3] [--batches 4000] [--variant NAME|bench|all] [--json]
 *   npx tsx bench/polling-economy.ts --frontier [--seeds 1,2,3] [--batches 4000] [--json]
 *
 * `--batches` is per seed; the seeds' batches are pooled into one table per workload. `--variant
 * bench` (the default) runs the workloads `npm run bench` reports (BENCH_WORKLOADS), `all` every
 * variant in WORKLOAD_VARIANTS, one summary line each after the tables. Each table also says what
 * batchwatch's polls and the 60 s poll's saw (queued, part done, at 100%, finalizing, …): where the
 * polls go. `--frontier` instead runs batchwatch with each of FRONTIER_VARIANTS (the knobs that
 * trade polls for detection delay) on every bench workload: the trade-off, measured.
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
import { nextPollDelay, pollScheduleWith, type PollHistory, type PollObservation, type PollingPolicy } from "../lib/polling";
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

/**
 * What a poll saw, for the breakdown of where batchwatch's polls go: validating; in progress with
 * nothing done yet (queued); part done (moving or between bursts); everything counted but still
 * in progress (at 100%); in progress without progress information; finalizing or cancelling; and
 * the poll that saw the batch terminal (one per batch).
 */
export const POLL_PHASES = ["validating", "queued", "part done", "at 100%", "no progress", "finalizing", "terminal"] as const;
export type PollPhase = (typeof POLL_PHASES)[number];

export function pollPhase(o: PollObservation): PollPhase {
  if (o.status === "validating") return "validating";
  if (o.status === "finalizing" || o.status === "cancelling") return "finalizing";
  if (o.status !== "in_progress") return "terminal";
  const c = o.requestCounts;
  const p =
    typeof o.progress === "number" ? (o.progress > 1 ? o.progress / 100 : o.progress) : c && c.total > 0 ? (c.completed + c.failed) / c.total : null;
  return p === null ? "no progress" : p <= 0 ? "queued" : p >= 1 ? "at 100%" : "part done";
}

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
  /**
   * Mean polls per batch by what the poll saw (POLL_PHASES): batchwatch's, the fixed 60 s poll's,
   * and how many times fewer batchwatch spends there.
   */
  phases: Record<PollPhase, { batchwatch: number; fixed60s: number; fewer: number }>;
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
  const phaseCounts = Object.fromEntries(POLL_PHASES.map((p) => [p, 0])) as Record<PollPhase, number>;
  const fixedPhaseCounts = Object.fromEntries(POLL_PHASES.map((p) => [p, 0])) as Record<PollPhase, number>;
  const countPhase = (h: PollHistory) => phaseCounts[pollPhase(h.observations[h.observations.length - 1])]++;
  // What the fixed 60 s poll's polls see (its outcome comes in closed form; this walks its ticks).
  const fixedPhases: Strategy = (b, rand) => {
    const outcome = STRATEGIES["cron-60s"].run(b, rand);
    const first = b.endAt + outcome.delayMs - (outcome.polls - 1) * 60_000;
    for (let i = 0; i < outcome.polls; i++) fixedPhaseCounts[pollPhase(b.observe(first + i * 60_000))]++;
    return outcome;
  };
  for (const seed of seeds) {
    const seeded = generateWorkload(seed, options.batches, workloadOptions);
    batches.push(...seeded);
    for (const [name, s] of Object.entries(STRATEGIES) as [StrategyName, (typeof STRATEGIES)[StrategyName]][]) {
      const rand = mulberry32(seed ^ 0x9e3779b9); // the cron phase, independent of the workload stream
      // batchwatch is driven here (not through STRATEGIES) to count what each of its polls saw.
      const run: Strategy =
        name === "batchwatch" ? (b) => simulateSchedule(b, (h) => nextPollDelay(h), { onPoll: countPhase }) : name === "cron-60s" ? fixedPhases : s.run;
      for (const b of seeded) outcomes[name].push(run(b, rand));
    }
  }
  phaseCounts.terminal += batches.length; // the poll that saw each batch end

  const results = {} as Record<StrategyName, Omit<StrategyStats, "pollsVsFixed60s">>;
  for (const name of Object.keys(STRATEGIES) as StrategyName[]) results[name] = summarise(STRATEGIES[name].description, outcomes[name], batches);
  const strategies = {} as Record<StrategyName, StrategyStats>;
  for (const name of Object.keys(results) as StrategyName[]) {
    strategies[name] = { ...results[name], pollsVsFixed60s: round(results[name].polls.mean / results["cron-60s"].polls.mean, 4) };
  }
  const targets = targetsFor(family, strategies);
  const perBatch = (n: number) => round(n / Math.max(1, batches.length), 2);
  const phases = Object.fromEntries(
    POLL_PHASES.map((p) => [
      p,
      { batchwatch: perBatch(phaseCounts[p]), fixed60s: perBatch(fixedPhaseCounts[p]), fewer: round(fixedPhaseCounts[p] / Math.max(1, phaseCounts[p]), 1) },
    ]),
  ) as PollingEconomyReport["phases"];

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
    phases,
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
  lines.push(`${"polls/batch by what the poll saw".padEnd(34)}${POLL_PHASES.map((p) => pad(p, 12)).join("")}`);
  lines.push(`${"  batchwatch".padEnd(34)}${POLL_PHASES.map((p) => pad(r.phases[p].batchwatch.toFixed(1), 12)).join("")}`);
  lines.push(`${"  cron-60s".padEnd(34)}${POLL_PHASES.map((p) => pad(r.phases[p].fixed60s.toFixed(1), 12)).join("")}`);
  lines.push(`${"  fewer".padEnd(34)}${POLL_PHASES.map((p) => pad(r.phases[p].batchwatch > 0 ? `${r.phases[p].fewer}×` : "–", 12)).join("")}`);
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

/** The policy variants `--frontier` measures: the knobs that trade polls for detection delay. */
export const FRONTIER_VARIANTS: readonly { label: string; policy: Partial<PollingPolicy> }[] = [
  { label: "window 55 s + 1% of the age", policy: { windowAgeFraction: 0.01 } },
  { label: "window 55 s + 1.25%", policy: { windowAgeFraction: 0.0125 } },
  { label: "window 55 s + 1.5% (current)", policy: {} },
  { label: "window 55 s + 1.75%", policy: { windowAgeFraction: 0.0175 } },
  { label: "window 55 s + 2%", policy: { windowAgeFraction: 0.02 } },
  { label: "window 55 s + 2.5%", policy: { windowAgeFraction: 0.025 } },
  { label: "window 55 s + 3%", policy: { windowAgeFraction: 0.03 } },
  { label: "window 65 s + 1.5%", policy: { windowBaseMs: 65_000 } },
  { label: "finalizing every 60 s", policy: { briskMaxMs: 60_000 } },
  { label: "finalizing +0.5% of its length", policy: { briskGrowth: 0.005 } },
  { label: "trusted wait ≤ 30% of the age", policy: { trustedAgeFraction: 0.3 } },
  { label: "trusted wait ≤ 4 h", policy: { trustedCapMs: 4 * 3_600_000 } },
];

export interface FrontierRow {
  label: string;
  policy: Partial<PollingPolicy>;
  /** Per bench workload: batchwatch under this policy against the fixed 60 s poll on the same batches. */
  workloads: { variant: string; family: WorkloadFamily; fewer: number; maxPolls: number; p95: number; fixedP95: number; p99: number }[];
}

/**
 * The trade-off between polls and detection delay: batchwatch under each of FRONTIER_VARIANTS on
 * every bench workload (the same seeded batches as the tables), against the fixed 60 s poll.
 */
export function runFrontier(batchesPerSeed = BENCH_BATCHES_PER_SEED, seeds: readonly number[] = BENCH_SEEDS): FrontierRow[] {
  const rows: FrontierRow[] = FRONTIER_VARIANTS.map((v) => ({ ...v, workloads: [] }));
  for (const { variant, family } of BENCH_WORKLOADS) {
    const batches = seeds.flatMap((seed) => generateWorkload(seed, batchesPerSeed, WORKLOAD_VARIANTS[variant]));
    const fixed: PollOutcome[] = [];
    for (const seed of seeds) {
      const rand = mulberry32(seed ^ 0x9e3779b9);
      for (const b of batches.slice(fixed.length, fixed.length + batchesPerSeed)) fixed.push(STRATEGIES["cron-60s"].run(b, rand));
    }
    const fixedStats = summarise("", fixed, batches);
    for (const row of rows) {
      const schedule = pollScheduleWith(row.policy);
      const stats = summarise("", batches.map((b) => simulateSchedule(b, schedule)), batches);
      row.workloads.push({
        variant,
        family,
        fewer: round(fixedStats.polls.mean / stats.polls.mean, 2),
        maxPolls: stats.polls.max,
        p95: stats.detectionDelaySeconds.p95,
        fixedP95: fixedStats.detectionDelaySeconds.p95,
        p99: stats.detectionDelaySeconds.p99,
      });
    }
  }
  return rows;
}

/** One line per policy variant: the steady workload, then the range over the bursty ones. */
export function formatFrontier(rows: FrontierRow[]): string {
  const pad = (x: string | number, n: number) => String(x).padStart(n);
  const range = (xs: number[], digits: number) => {
    const lo = Math.min(...xs).toFixed(digits);
    const hi = Math.max(...xs).toFixed(digits);
    return lo === hi ? lo : `${lo}–${hi}`;
  };
  const lines = [
    `${"policy".padEnd(34)}${pad("steady: fewer", 14)}${pad("p95 s", 7)}${pad("p99 s", 8)}` +
      `${pad("bursty: fewer", 15)}${pad("p95 s", 12)}${pad("p99 s", 13)}${pad("max polls", 10)}`,
  ];
  for (const row of rows) {
    const steady = row.workloads.filter((w) => w.family === "steady");
    const bursty = row.workloads.filter((w) => w.family === "bursty");
    lines.push(
      `${row.label.padEnd(34)}${pad(range(steady.map((w) => w.fewer), 1) + "×", 14)}${pad(range(steady.map((w) => w.p95), 1), 7)}` +
        `${pad(range(steady.map((w) => w.p99), 0), 8)}${pad(range(bursty.map((w) => w.fewer), 1) + "×", 15)}` +
        `${pad(range(bursty.map((w) => w.p95), 1), 12)}${pad(range(bursty.map((w) => w.p99), 0), 13)}${pad(Math.max(...bursty.map((w) => w.maxPolls)), 10)}`,
    );
  }
  const fixed = rows[0]?.workloads ?? [];
  lines.push(`(the fixed 60 s poll's p95 on the same batches: ${range(fixed.map((w) => w.fixedP95), 1)} s)`);
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
    throw new Error("usage: tsx bench/polling-economy.ts [--seeds 1,2,3] [--batches N] [--variant NAME|bench|all] [--frontier] [--json]");
  }
  return { seeds, batches, variant: get("--variant") ?? "bench", json: argv.includes("--json"), frontier: argv.includes("--frontier") };
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
  } catch {
    return false;
  }
})();

if (isMain && process.argv.includes("--frontier")) {
  const { seeds, batches, json } = parseArgs(process.argv.slice(2));
  const rows = runFrontier(batches, seeds);
  console.log(json ? JSON.stringify(rows, null, 2) : formatFrontier(rows));
} else if (isMain) {
  const { json, variant, frontier: _frontier, ...options } = parseArgs(process.argv.slice(2));
  const variants =
    variant === "bench" ? BENCH_WORKLOADS.map((w) => w.variant) : variant === "all" ? Object.keys(WORKLOAD_VARIANTS) : [variant];
  const reports = variants.map((v) => {
    const report = runPollingEconomy({ ...options, variant: v });
    if (!json) console.log(`${formatPollingEconomy(report)}\n`);
    return report;
  });
  console.log(json ? JSON.stringify(reports, null, 2) : formatWorkloadSummary(reports));
}
