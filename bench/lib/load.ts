import { Pool } from "undici";
import { cpuMs, waitIdle } from "./processes";
import { percentile, round, sortedCopy } from "./stats";

/**
 * Load generation for the HTTP benchmarks, in the benchmark process, on undici connection pools
 * (kept-alive connections, no pipelining). Two kinds of run:
 *
 * - {@link saturate}: closed loop — `connections` workers, each sending its next request as soon
 *   as the previous answer is read, for `durationS`. Measures throughput at saturation and the
 *   server's CPU per answered request: /proc/<pid>/stat's utime + stime before the run and after the
 *   server is idle again (so the work a request leaves for after its answer, such as sending its
 *   events, is counted), divided by the answers.
 * - {@link paced}: open loop — request i is sent at start + i / rate whether or not earlier ones
 *   have been answered (autocannon's fixed rate sends each connection's second of requests at once,
 *   so its percentiles measure how fast a burst drains). Latency runs from the time a request was
 *   due, so a late generator or a queueing server both show.
 */

export interface RequestSpec {
  method: "POST" | "GET";
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Target {
  /** Base URL, e.g. http://127.0.0.1:3000. */
  url: string;
  /** The server process whose CPU time is measured (null: not measured). */
  pid: number | null;
  /** Builds each request (a fresh webhook id and signature, a distinct batch id, …). */
  next: () => RequestSpec;
  /** Counts every 2xx answer this target gave in any run (warm-ups included), when set. */
  tally?: { ok: number };
  /** The status that counts as answered (default: any 2xx), for a case that measures a refusal. */
  okStatus?: number;
}

export interface RunCounts {
  requests: number;
  ok: number;
  /** Answers by status code (plus "error" for requests that got no answer). */
  statuses: Record<string, number>;
}

export interface SaturationResult extends RunCounts {
  connections: number;
  durationS: number;
  okPerSec: number;
  /** Server CPU (user + system, ms) per 2xx answer, including what the requests left for after their answers. */
  cpuMsPerOk: number | null;
  /** How long the server stayed busy after the run ended. */
  drainMs: number | null;
  /** Server CPU time over the run, ms (null: not measured). */
  cpuMs: number | null;
}

export interface PacedResult extends RunCounts {
  rate: number;
  durationS: number;
  /** From the time each request was due to the end of its answer, ms. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** How late the generator itself sent requests, ms (p99): large values mean the client was starved. */
  sendLagP99Ms: number;
  cpuMsPerOk: number | null;
  cpuMs: number | null;
  /** Every latency and send lag, for merging slices ({@link mergePaced} drops them). */
  samples?: { latencies: number[]; lags: number[] };
}

const pools = new Map<string, Pool>();

function pool(url: string): Pool {
  let p = pools.get(url);
  if (!p) {
    p = new Pool(url, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    pools.set(url, p);
  }
  return p;
}

/** Closes every connection pool (the end of a benchmark run). */
export async function closeLoadPools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.close().catch(() => undefined)));
  pools.clear();
}

/** One request; resolves with its status code, or "error". Never rejects. */
export async function send(target: Target, spec: RequestSpec = target.next()): Promise<number | "error"> {
  try {
    const response = await pool(target.url).request({ method: spec.method, path: spec.path, headers: spec.headers, body: spec.body });
    await response.body.dump();
    if (target.tally && response.statusCode >= 200 && response.statusCode < 300) target.tally.ok += 1;
    return response.statusCode;
  } catch {
    return "error";
  }
}

function count(counts: RunCounts, status: number | "error", okStatus?: number): void {
  counts.requests += 1;
  if (typeof status === "number" && (okStatus !== undefined ? status === okStatus : status >= 200 && status < 300)) counts.ok += 1;
  counts.statuses[status] = (counts.statuses[status] ?? 0) + 1;
}

function cpuPerOk(pid: number | null, before: number | null, after: number | null, ok: number): number | null {
  if (pid === null || before === null || after === null || ok === 0) return null;
  return round((after - before) / ok, 3);
}

export async function saturate(target: Target, options: { connections: number; durationS: number }): Promise<SaturationResult> {
  const counts: RunCounts = { requests: 0, ok: 0, statuses: {} };
  if (target.pid !== null) await waitIdle(target.pid);
  const cpuBefore = target.pid !== null ? cpuMs(target.pid) : null;
  const started = performance.now();
  const until = started + options.durationS * 1000;
  let okAtEnd = 0;
  let endedAt = 0;
  await Promise.all(
    Array.from({ length: options.connections }, async () => {
      while (performance.now() < until) count(counts, await send(target), target.okStatus);
      // Throughput counts answers up to the end of the run; the last worker to finish closes it.
      endedAt = Math.max(endedAt, performance.now());
      okAtEnd = counts.ok;
    }),
  );
  const drainMs = target.pid !== null ? await waitIdle(target.pid) : null;
  const cpuAfter = target.pid !== null ? cpuMs(target.pid) : null;
  const elapsedS = (endedAt - started) / 1000;
  return {
    ...counts,
    connections: options.connections,
    durationS: round(elapsedS, 2),
    okPerSec: round(okAtEnd / elapsedS, 1),
    cpuMsPerOk: cpuPerOk(target.pid, cpuBefore, cpuAfter, counts.ok),
    drainMs,
    cpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
  };
}

export async function paced(target: Target, options: { rate: number; durationS: number }): Promise<PacedResult> {
  const counts: RunCounts = { requests: 0, ok: 0, statuses: {} };
  if (target.pid !== null) await waitIdle(target.pid);
  const cpuBefore = target.pid !== null ? cpuMs(target.pid) : null;
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  const lags: number[] = [];
  const inFlight: Promise<void>[] = [];
  const start = performance.now() + 20;
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait - 0.5));
    while (performance.now() < due) {
      // spin the last half millisecond: timers are coarser than the interval's precision needs
    }
    const spec = target.next();
    lags.push(performance.now() - due);
    inFlight.push(
      send(target, spec).then((status) => {
        latencies.push(performance.now() - due);
        count(counts, status, target.okStatus);
      }),
    );
  }
  await Promise.all(inFlight);
  if (target.pid !== null) await waitIdle(target.pid);
  const cpuAfter = target.pid !== null ? cpuMs(target.pid) : null;
  return {
    ...counts,
    rate: options.rate,
    durationS: options.durationS,
    ...latencyStats(latencies, lags),
    cpuMsPerOk: cpuPerOk(target.pid, cpuBefore, cpuAfter, counts.ok),
    cpuMs: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    samples: { latencies, lags },
  };
}

function latencyStats(latencies: readonly number[], lags: readonly number[]): Pick<PacedResult, "latencyMs" | "sendLagP99Ms"> {
  const sorted = sortedCopy(latencies);
  return {
    latencyMs: {
      p50: round(percentile(sorted, 0.5), 2),
      p90: round(percentile(sorted, 0.9), 2),
      p99: round(percentile(sorted, 0.99), 2),
      max: round(sorted[sorted.length - 1] ?? 0, 2),
    },
    sendLagP99Ms: round(percentile(sortedCopy(lags), 0.99), 2),
  };
}

function mergeCounts(parts: readonly RunCounts[]): RunCounts {
  const statuses: Record<string, number> = {};
  for (const part of parts) for (const [code, n] of Object.entries(part.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  return { requests: parts.reduce((n, p) => n + p.requests, 0), ok: parts.reduce((n, p) => n + p.ok, 0), statuses };
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + b!, 0);
}

/** Slices of one saturation measurement (interleaved with other cases' slices) as one result. */
export function mergeSaturation(parts: readonly SaturationResult[]): SaturationResult {
  const counts = mergeCounts(parts);
  const elapsedS = parts.reduce((s, p) => s + p.durationS, 0);
  const okInTime = parts.reduce((s, p) => s + p.okPerSec * p.durationS, 0);
  const cpu = sumOrNull(parts.map((p) => p.cpuMs));
  return {
    ...counts,
    connections: parts[0]!.connections,
    durationS: round(elapsedS, 2),
    okPerSec: round(okInTime / elapsedS, 1),
    cpuMsPerOk: cpu === null || counts.ok === 0 ? null : round(cpu / counts.ok, 3),
    drainMs: Math.max(...parts.map((p) => p.drainMs ?? 0)),
    cpuMs: cpu,
  };
}

/** Slices of one paced measurement as one result: percentiles over all their requests. */
export function mergePaced(parts: readonly PacedResult[]): PacedResult {
  const counts = mergeCounts(parts);
  const cpu = sumOrNull(parts.map((p) => p.cpuMs));
  return {
    ...counts,
    rate: parts[0]!.rate,
    durationS: parts.reduce((s, p) => s + p.durationS, 0),
    ...latencyStats(parts.flatMap((p) => p.samples?.latencies ?? []), parts.flatMap((p) => p.samples?.lags ?? [])),
    cpuMsPerOk: cpu === null || counts.ok === 0 ? null : round(cpu / counts.ok, 3),
    cpuMs: cpu,
  };
}

function codes(statuses: Record<string, number>): string {
  return Object.entries(statuses)
    .map(([code, n]) => `${code}×${n}`)
    .join(" ");
}

export function describeSaturation(label: string, r: SaturationResult): string {
  return (
    `${label.padEnd(28)} saturation c=${r.connections} ${String(r.okPerSec).padStart(7)} ok/s` +
    (r.cpuMsPerOk !== null ? `  server cpu ${r.cpuMsPerOk} ms/req` : "") +
    `  [${codes(r.statuses)}]` +
    (r.drainMs !== null && r.drainMs > 1000 ? `  drained in ${r.drainMs} ms` : "")
  );
}

export function describePaced(label: string, r: PacedResult): string {
  return (
    `${label.padEnd(28)} paced ${r.rate}/s  p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  max ${r.latencyMs.max} ms` +
    `  (send lag p99 ${r.sendLagP99Ms} ms)  [${codes(r.statuses)}]`
  );
}
