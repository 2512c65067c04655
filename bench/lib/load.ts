import autocannon from "autocannon";
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
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const first = options.next();
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    ...(options.overallRate ? { overallRate: Math.max(1, Math.round(options.overallRate)) } : {}),
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
    `p50 ${r.latencyMs.p50} ms  p99 ${r.latencyMs.p99} ms  max ${r.latencyMs.max} ms  [${codes}${r.errors ? ` errors×${r.errors}` : ""}]`
  );
}
