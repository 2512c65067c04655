/**
 * ETA accuracy: how close `estimateCompletion` (lib/watch/eta.ts) comes to when each simulated
 * batch really ends, on the polling benchmark's workloads (fixtures/polling/workload.ts), with the
 * history the watcher would hold at that moment (batchwatch's own poll schedule, driven as the
 * watcher drives it: fixtures/polling/simulate.ts).
 *
 *   npx tsx bench/eta-accuracy.ts [--seeds 1,2,3] [--batches 4000] [--variant NAME|bench|all] [--json]
 *
 * At each checkpoint of a batch's life (a share of createdAt → end: 10%, 25%, 50%, 75%, 90%), for
 * every batch still running and already tracked then, the ETA is asked with `now` = the
 * checkpoint and the observations of the polls made until then. Reported per workload and
 * checkpoint:
 * - answered: the share of batches given an estimate (the rest are told "not enough evidence");
 * - error p50 / p90: |expected − actual end| / (actual end − now) over the answered ones — the
 *   error as a share of the time that really remained;
 * - in range: the share of answered ones whose actual end fell within [earliest, latest];
 * - the same two error figures over every batch asked, counting each unanswered one as an error
 *   of 1 (100% of the remaining time), so that abstaining cannot flatter the table.
 */
import { pathToFileURL } from "node:url";
import { nextPollDelay, type PollHistory } from "../lib/polling";
import { estimateCompletion } from "../lib/watch/eta";
import { simulateSchedule } from "../fixtures/polling/simulate";
import { BENCH_WORKLOADS, generateWorkload, WORKLOAD_VARIANTS, type SimulatedBatch } from "../fixtures/polling/workload";
import { percentile, round, sortedCopy } from "./lib/stats";

/** Where in a batch's life (share of createdAt → end) the ETA is asked. */
export const ETA_CHECKPOINTS: readonly number[] = [0.1, 0.25, 0.5, 0.75, 0.9];
export const ETA_BENCH_SEEDS: readonly number[] = [1, 2, 3];
export const ETA_BENCH_BATCHES_PER_SEED = 4_000;

export interface EtaCheckpointStats {
  /** Share of the batch's life. */
  at: number;
  /** Batches still running (and tracked) at that point. */
  asked: number;
  answered: number;
  answeredShare: number;
  /** |expected − end| / (end − now), over the answered ones. */
  errorP50: number | null;
  errorP90: number | null;
  /** Share of the answered ones whose end fell within [earliest, latest]. */
  inRange: number | null;
  /** Over every batch asked, an unanswered one counting as an error of 1. */
  allErrorP50: number;
  allErrorP90: number;
  /** Why estimates were refused, by reason. */
  gaps: Record<string, number>;
}

export interface EtaAccuracyReport {
  variant: string;
  seeds: number[];
  batches: number;
  checkpoints: EtaCheckpointStats[];
  /** Pooled over the checkpoints. */
  overall: Omit<EtaCheckpointStats, "at" | "gaps">;
  elapsedMs: number;
}

interface Sample {
  answered: boolean;
  error: number;
  inRange: boolean;
  gap?: string;
}

/** The history the watcher holds at `t`: the last poll's, with `now` moved to `t`. */
function historyAt(histories: PollHistory[], t: number): PollHistory | null {
  let found: PollHistory | null = null;
  for (const h of histories) {
    if (h.now > t) break;
    found = h;
  }
  return found ? { ...found, now: t } : null;
}

function measure(batch: SimulatedBatch, into: Sample[][]): void {
  const histories: PollHistory[] = [];
  simulateSchedule(batch, (h) => nextPollDelay(h), { onPoll: (h) => histories.push(h) });
  ETA_CHECKPOINTS.forEach((share, i) => {
    const t = batch.createdAt + share * batch.lengthMs;
    if (t >= batch.endAt) return;
    const history = historyAt(histories, t);
    if (!history) return; // not tracked yet, or not polled yet
    const remaining = batch.endAt - t;
    const eta = estimateCompletion(history);
    if (!eta || eta.state !== "estimated") {
      into[i]!.push({ answered: false, error: 1, inRange: false, gap: eta?.state === "not_enough_evidence" ? eta.reason : "terminal" });
      return;
    }
    into[i]!.push({
      answered: true,
      error: Math.abs(eta.expectedAt - batch.endAt) / remaining,
      inRange: eta.earliestAt <= batch.endAt && batch.endAt <= eta.latestAt,
    });
  });
}

function stats(samples: Sample[]): Omit<EtaCheckpointStats, "at" | "gaps"> {
  const answered = samples.filter((s) => s.answered);
  const errors = sortedCopy(answered.map((s) => s.error));
  const all = sortedCopy(samples.map((s) => s.error));
  return {
    asked: samples.length,
    answered: answered.length,
    answeredShare: round(samples.length ? answered.length / samples.length : 0, 3),
    errorP50: answered.length ? round(percentile(errors, 0.5), 3) : null,
    errorP90: answered.length ? round(percentile(errors, 0.9), 3) : null,
    inRange: answered.length ? round(answered.filter((s) => s.inRange).length / answered.length, 3) : null,
    allErrorP50: round(percentile(all, 0.5), 3),
    allErrorP90: round(percentile(all, 0.9), 3),
  };
}

export function runEtaAccuracy(options: { seeds?: readonly number[]; batches?: number; variant?: string } = {}): EtaAccuracyReport {
  const started = performance.now();
  const seeds = [...(options.seeds ?? ETA_BENCH_SEEDS)];
  const variant = options.variant ?? "default";
  const workload = WORKLOAD_VARIANTS[variant];
  if (!workload) throw new Error(`unknown workload variant "${variant}"`);
  const perCheckpoint: Sample[][] = ETA_CHECKPOINTS.map(() => []);
  let batches = 0;
  for (const seed of seeds) {
    for (const batch of generateWorkload(seed, options.batches ?? ETA_BENCH_BATCHES_PER_SEED, workload)) {
      measure(batch, perCheckpoint);
      batches++;
    }
  }
  const checkpoints = ETA_CHECKPOINTS.map((at, i) => {
    const gaps: Record<string, number> = {};
    for (const s of perCheckpoint[i]!) if (s.gap) gaps[s.gap] = (gaps[s.gap] ?? 0) + 1;
    return { at, ...stats(perCheckpoint[i]!), gaps };
  });
  return { variant, seeds, batches, checkpoints, overall: stats(perCheckpoint.flat()), elapsedMs: Math.round(performance.now() - started) };
}

/** Every workload `npm run bench` reports. */
export function runEtaBenchWorkloads(batchesPerSeed = ETA_BENCH_BATCHES_PER_SEED): EtaAccuracyReport[] {
  return BENCH_WORKLOADS.map(({ variant }) => runEtaAccuracy({ variant, batches: batchesPerSeed }));
}

const pct = (x: number | null) => (x === null ? "–" : `${(100 * x).toFixed(0)}%`);

/** One table: a row per workload and checkpoint. */
export function formatEtaAccuracy(reports: EtaAccuracyReport[]): string {
  const pad = (x: string | number, n: number) => String(x).padStart(n);
  const lines = [
    "ETA accuracy — |expected − actual end| as a share of the time that really remained (p50 / p90), answered ones; " +
      "'all' counts a refusal as 100%",
    `${"workload".padEnd(19)}${pad("life", 5)}${pad("asked", 7)}${pad("answered", 9)}${pad("err p50", 8)}${pad("p90", 6)}` +
      `${pad("in range", 9)}${pad("all p50", 8)}${pad("all p90", 8)}`,
  ];
  for (const r of reports) {
    for (const c of [...r.checkpoints, { at: -1, ...r.overall }]) {
      lines.push(
        `${(c.at === ETA_CHECKPOINTS[0] ? r.variant : "").padEnd(19)}${pad(c.at < 0 ? "all" : pct(c.at), 5)}${pad(c.asked, 7)}` +
          `${pad(pct(c.answeredShare), 9)}${pad(pct(c.errorP50), 8)}${pad(pct(c.errorP90), 6)}${pad(pct(c.inRange), 9)}` +
          `${pad(pct(c.allErrorP50), 8)}${pad(pct(c.allErrorP90), 8)}`,
      );
    }
  }
  return lines.join("\n");
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  const argv = process.argv.slice(2);
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const seeds = (get("--seeds") ?? ETA_BENCH_SEEDS.join(",")).split(",").map(Number);
  const batches = Number(get("--batches") ?? ETA_BENCH_BATCHES_PER_SEED);
  const variant = get("--variant") ?? "bench";
  const variants =
    variant === "bench" ? BENCH_WORKLOADS.map((w) => w.variant) : variant === "all" ? Object.keys(WORKLOAD_VARIANTS) : [variant];
  const reports = variants.map((v) => runEtaAccuracy({ seeds, batches, variant: v }));
  if (argv.includes("--json")) console.log(JSON.stringify(reports, null, 2));
  else {
    console.log(formatEtaAccuracy(reports));
    for (const r of reports) {
      console.log(`${r.variant}: refusals by reason`, JSON.stringify(r.checkpoints.map((c) => c.gaps)));
    }
  }
}
