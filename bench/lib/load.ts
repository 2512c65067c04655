import autocannon from "autocannon";
import { cpuMs, waitIdle } from "./processes";
import { round } from "./stats";

/** Load generation with autocannon, in the benchmark process. */

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** autocannon's overallRate (requests per second over all connections); unset = as fast as possible. */
  overallRate?: number;
  /** Builds each request: called once per request, so every request can carry a fresh id and signature. */
  next: () => { method: string; path: string; headers: Record<string, string>; body: string };
  /** The server's process: its CPU time per answered request is measured, and the run waits until it is idle again. */
  serverPid?: number;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  overallRate: number | null;
  /** Requests answered 2xx per second over the run. */
  okPerSec: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Milliseconds (autocannon corrects for coordinated omission when a rate is set). */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Server CPU time (user + system) during the run per 2xx answer; null without /proc or serverPid. */
  serverCpuMsPerOk: number | null;
  /** How long the server took to finish what was still in flight when the run ended. */
  drainMs: number | null;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const first = options.next();
  const cpuBefore = options.serverPid ? cpuMs(options.serverPid) : null;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    // At a fixed rate, autocannon's coordinated-omission correction assumes an expected interval of
    // ceil(1 / per-connection rate) = 1 ms and back-fills every T ms response with T - 1 synthetic
    // samples; at rates the server keeps up with there is no omission to correct, so it is off.
    ...(options.overallRate ? { overallRate: Math.max(1, Math.round(options.overallRate)), ignoreCoordinatedOmission: true } : {}),
    timeout: 30,
    requests: [
      {
        ...first,
        setupRequest: (request) => {
          const next = options.next();
          request.method = next.method;
          request.path = next.path;
          request.headers = next.headers;
          request.body = next.body;
          return request;
        },
      },
    ],
  });
  const cpuAfter = options.serverPid ? cpuMs(options.serverPid) : null;
  const drainMs = options.serverPid ? await waitIdle(options.serverPid) : null;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(count);
  const ok = result["2xx"];
  return {
    connections: options.connections,
    durationS: round(result.duration, 2),
    overallRate: options.overallRate ? Math.round(options.overallRate) : null,
    okPerSec: round(ok / result.duration, 1),
    requests: ok + result.non2xx,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: round(result.latency.average, 2),
    },
    serverCpuMsPerOk: cpuBefore !== null && cpuAfter !== null && ok > 0 ? round((cpuAfter - cpuBefore) / ok, 3) : null,
    drainMs,
  };
}

/** One short line describing a load result. */
export function describeLoad(label: string, r: LoadResult): string {
  const rate = r.overallRate ? `rate ${r.overallRate}/s` : "max";
  const codes = Object.entries(r.statusCodes)
    .map(([code, n]) => `${code}×${n}`)
    .join(" ");
  return (
    `${label.padEnd(22)} ${rate.padEnd(14)} c=${String(r.connections).padEnd(3)} ${String(r.okPerSec).padStart(8)} ok/s ` +
    `p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  max ${r.latencyMs.max} ms  [${codes}${r.errors ? ` errors×${r.errors}` : ""}]` +
    (r.serverCpuMsPerOk !== null ? `  server cpu ${r.serverCpuMsPerOk} ms/req` : "") +
    (r.drainMs !== null && r.drainMs > 1000 ? `  drained in ${r.drainMs} ms` : "")
  );
}
