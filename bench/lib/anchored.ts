import { readFileSync } from "node:fs";
import os from "node:os";
import { describePaced, describeSaturation, mergePaced, mergeSaturation, paced, type PacedResult, saturate, type SaturationResult, send, type Target } from "./load";
import { cpuMs } from "./processes";
import { log, median, type Metric, round } from "./stats";

/**
 * Measuring routes against their anchors, in one run, back to back: every round measures each
 * case in turn — the anchors first (a bare node:http server verifying the signature; Next's
 * constant POST route outside proxy.ts) — at saturation (closed loop: throughput and server CPU
 * per request) and at an evenly paced rate (open loop: p50/p99). Rounds repeat so the spread shows,
 * and each records the machine's load: the load average, and the CPU other processes used while
 * it ran (this machine is shared), so a round taken under heavy load says so.
 */

export interface Case {
  /** Short key, e.g. "constant". */
  key: string;
  /** What is measured, for the table. */
  label: string;
  target: Target;
  /** Measured at saturation only (a part of another case's cost, not a route anyone calls at a pace). */
  saturationOnly?: boolean;
}

export interface AnchoredSettings {
  rounds: number;
  /** Each round's measurement of a case is cut into this many slices, interleaved with the other cases' slices. */
  slices: number;
  connections: number;
  warmupS: number;
  saturationS: number;
  rate: number;
  pacedS: number;
}

export function anchoredSettings(quick: boolean): AnchoredSettings {
  return quick
    ? { rounds: 3, slices: 2, connections: 32, warmupS: 1, saturationS: 2, rate: 100, pacedS: 4 }
    : { rounds: 3, slices: 3, connections: 32, warmupS: 2, saturationS: 6, rate: 100, pacedS: 9 };
}

export interface RoundLoad {
  /** 1-minute load average at the start and end of the round. */
  loadAverage: [number, number];
  /** Cores' worth of CPU used by processes other than this benchmark's own during the round. */
  otherCores: number | null;
  /** Load average above the number of cores at the start or end of the round. */
  heavy: boolean;
}

export interface Round {
  round: number;
  load: RoundLoad;
  results: Record<string, { saturation: SaturationResult; paced: PacedResult | null }>;
  /** What the section's per-round probe measured (e.g. Postgres's own commit latency). */
  probe?: unknown;
}

/** Busy and total CPU time of the whole machine so far (ms), from /proc/stat; null without it. */
function machineCpu(): { busyMs: number; totalMs: number } | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = fields[3]! + fields[4]!;
    return { busyMs: (total - idle) * 10, totalMs: total * 10 };
  } catch {
    return null;
  }
}

function ourCpuMs(pids: readonly number[]): number | null {
  let sum = 0;
  for (const pid of new Set([process.pid, ...pids])) {
    const ms = cpuMs(pid);
    if (ms === null) return null;
    sum += ms;
  }
  return sum;
}

export async function runRounds(
  section: string,
  cases: readonly Case[],
  settings: AnchoredSettings,
  options: { extraPids?: readonly number[]; probe?: () => Promise<unknown> } = {},
): Promise<Round[]> {
  const extraPids = options.extraPids ?? [];
  const pids = [...cases.map((c) => c.target.pid).filter((pid): pid is number => pid !== null), ...extraPids];
  const cores = os.availableParallelism();
  log(`${section}: warm-up ${settings.warmupS} s each`);
  for (const c of cases) await saturate(c.target, { connections: settings.connections, durationS: settings.warmupS });
  const rounds: Round[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const loadStart = os.loadavg()[0]!;
    const machineBefore = machineCpu();
    const oursBefore = ourCpuMs(pids);
    const t0 = performance.now();
    // Slices interleaved (case A, B, C, A, B, C, …) so that every case sees the same moments of a
    // shared machine, rather than one case a quiet minute and the next a busy one.
    const saturations = new Map<string, SaturationResult[]>(cases.map((c) => [c.key, []]));
    const paceds = new Map<string, PacedResult[]>(cases.map((c) => [c.key, []]));
    for (let slice = 0; slice < settings.slices; slice++) {
      for (const c of cases) {
        saturations.get(c.key)!.push(await saturate(c.target, { connections: settings.connections, durationS: settings.saturationS / settings.slices }));
      }
    }
    for (let slice = 0; slice < settings.slices; slice++) {
      for (const c of cases) {
        if (!c.saturationOnly) paceds.get(c.key)!.push(await paced(c.target, { rate: settings.rate, durationS: settings.pacedS / settings.slices }));
      }
    }
    const results: Round["results"] = {};
    for (const c of cases) {
      const saturation = mergeSaturation(saturations.get(c.key)!);
      const pacedResult = c.saturationOnly ? null : mergePaced(paceds.get(c.key)!);
      log(describeSaturation(`${section} r${round} ${c.key}`, saturation));
      if (pacedResult) log(describePaced(`${section} r${round} ${c.key}`, pacedResult));
      results[c.key] = { saturation, paced: pacedResult };
    }
    const probe = options.probe ? await options.probe() : undefined;
    const elapsedMs = performance.now() - t0;
    const machineAfter = machineCpu();
    const oursAfter = ourCpuMs(pids);
    const loadEnd = os.loadavg()[0]!;
    const otherCores =
      machineBefore && machineAfter && oursBefore !== null && oursAfter !== null
        ? round2(Math.max(0, machineAfter.busyMs - machineBefore.busyMs - (oursAfter - oursBefore)) / elapsedMs)
        : null;
    const load: RoundLoad = {
      loadAverage: [round2(loadStart), round2(loadEnd)],
      otherCores,
      heavy: Math.max(loadStart, loadEnd) > cores,
    };
    log(`${section} r${round}: load average ${load.loadAverage.join(" → ")}, other processes ${otherCores ?? "?"} cores${load.heavy ? " — HEAVY LOAD" : ""}`);
    rounds.push({ round, load, results, ...(probe === undefined ? {} : { probe }) });
  }
  return rounds;
}

function round2(x: number): number {
  return round(x, 2);
}

/** "median (min–max)" of the rounds' values. */
export function spread(values: readonly number[], digits = 1): string {
  if (values.length === 0) return "–";
  const fmt = (x: number) => round(x, digits).toLocaleString("en-US", { maximumFractionDigits: digits });
  return values.length === 1 ? fmt(values[0]!) : `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** The rounds the targets are judged on: the light ones when there are any, else all (and it says so). */
export function judgedRounds(rounds: readonly Round[]): { rounds: Round[]; note: string } {
  const light = rounds.filter((r) => !r.load.heavy);
  const heavy = rounds.filter((r) => r.load.heavy).map((r) => r.round);
  if (heavy.length === 0) return { rounds: [...rounds], note: "no round under heavy load" };
  if (light.length === 0) {
    return { rounds: [...rounds], note: `EVERY round ran under heavy load (load average > ${os.availableParallelism()} cores): judged on them anyway, read with care` };
  }
  return { rounds: light, note: `round(s) ${heavy.join(", ")} ran under heavy load and are left out of the medians (shown in the details)` };
}

export interface Ratio {
  caseKey: string;
  anchorKey: string;
  /** Per round: the case's throughput over the anchor's. */
  throughput: number[];
  /** Per round: the case's p99 at the paced rate over the anchor's. */
  p99: number[];
}

export function ratios(rounds: readonly Round[], caseKey: string, anchorKey: string): Ratio {
  return {
    caseKey,
    anchorKey,
    throughput: rounds.map((r) => r.results[caseKey]!.saturation.okPerSec / Math.max(1e-9, r.results[anchorKey]!.saturation.okPerSec)),
    p99: rounds.map((r) => (r.results[caseKey]!.paced?.latencyMs.p99 ?? NaN) / Math.max(1e-9, r.results[anchorKey]!.paced?.latencyMs.p99 ?? NaN)),
  };
}

/** The table rows every anchored section shows: per case, then per round's load. */
export function caseMetrics(section: string, cases: readonly Case[], all: readonly Round[], judged: readonly Round[], settings: AnchoredSettings): Metric[] {
  const metrics: Metric[] = [];
  for (const c of cases) {
    const sat = judged.map((r) => r.results[c.key]!.saturation);
    const pac = judged.map((r) => r.results[c.key]!.paced).filter((p): p is PacedResult => p !== null);
    const cpu = sat.map((s) => s.cpuMsPerOk).filter((x): x is number => x !== null);
    metrics.push(
      { section, name: `${c.label}: req/s at saturation (c=${settings.connections})`, value: spread(sat.map((s) => s.okPerSec), 0) },
      ...(cpu.length > 0 ? [{ section, name: `${c.label}: server CPU per request`, value: spread(cpu, 2), unit: "ms" }] : []),
      ...(pac.length > 0
        ? [
            {
              section,
              name: `${c.label}: p50 | p99 at ${settings.rate} req/s paced`,
              // A case that could not even reach the paced rate at saturation is measured queueing.
              value:
                `${spread(pac.map((p) => p.latencyMs.p50), 2)} | ${spread(pac.map((p) => p.latencyMs.p99), 2)}` +
                (median(sat.map((x) => x.okPerSec)) < settings.rate ? ` (over capacity: saturates below ${settings.rate}/s)` : ""),
              unit: "ms",
            },
          ]
        : []),
    );
    const failed = all.reduce((n, r) => {
      const { saturation, paced: p } = r.results[c.key]!;
      return n + saturation.requests - saturation.ok + (p ? p.requests - p.ok : 0);
    }, 0);
    if (failed > 0) metrics.push({ section, name: `${c.label}: answers not as expected (all rounds)`, value: failed });
  }
  metrics.push({
    section,
    name: "load average at round start → end (other processes' CPU, cores)",
    value: all.map((r) => `r${r.round}: ${r.load.loadAverage.join("→")} (${r.load.otherCores ?? "?"})${r.load.heavy ? " HEAVY" : ""}`).join("; "),
  });
  return metrics;
}

/** A target row from per-round ratios: met when the median of the judged rounds meets it. */
export function ratioTarget(section: string, name: string, values: readonly number[], comparison: "≥" | "≤", threshold: number): Metric {
  const m = median(values);
  return {
    section,
    name,
    value: spread(values, 2),
    target: `${comparison} ${threshold}`,
    met: comparison === "≥" ? m >= threshold : m <= threshold,
  };
}

/** Sends one request and throws unless it is answered 2xx (a case that cannot work is not measured). */
export async function smoke(c: Case): Promise<void> {
  const status = await send(c.target);
  const expected = c.target.okStatus;
  if (typeof status !== "number" || (expected !== undefined ? status !== expected : status < 200 || status >= 300)) {
    throw new Error(`${c.label.trim()} answered ${status}, not ${expected ?? "2xx"}`);
  }
}
