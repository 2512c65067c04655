/**
 * Tracking: `POST /api/batches` on the same `next start` server (real Postgres, API key auth,
 * the simulated provider, the stand-in Inngest event API), a distinct simulated batch id per
 * request. Max throughput, then p50/p99 at a fixed rate of 50 % of it.
 *
 * When the route is not there (404), `trackBatch` is measured in-process instead, and the
 * result says so.
 */
import { type HttpContext, getJson, loadSettings, type SectionOptions } from "./lib/context";
import { describeLoad, runLoad } from "./lib/load";
import { queryOnce } from "./lib/postgres";
import { log, type Metric, percentile, round, type SectionResult, sortedCopy } from "./lib/stats";

const SECTION = "tracking";
/** Simulated ids are `sim_<duration>_<outcome>_<total>`: the counter picks a distinct (duration, total). */
const DURATIONS_S = 600_000;

export function distinctSimulatedIds() {
  let n = 0;
  return () => {
    n += 1;
    return `sim_${60 + (n % DURATIONS_S)}s_completed_${1 + Math.floor(n / DURATIONS_S)}`;
  };
}

export async function runTracking(ctx: HttpContext, options: SectionOptions): Promise<SectionResult> {
  const started = performance.now();
  const settings = loadSettings(options.quick);
  const nextId = distinctSimulatedIds();
  // Nothing is ever delivered here (no Inngest runs the watch); the URL only has to be valid.
  const webhookUrl = "http://127.0.0.1:9/batchwatch-bench";
  const next = () => ({
    method: "POST",
    path: "/api/batches",
    headers: { "content-type": "application/json", authorization: `Bearer ${ctx.apiKey}` },
    body: JSON.stringify({ provider: "simulated", batchId: nextId(), webhookUrl, metadata: { bench: true } }),
  });

  const probe = next();
  const response = await fetch(ctx.nextUrl + probe.path, {
    method: "POST",
    headers: probe.headers,
    body: probe.body,
    signal: AbortSignal.timeout(15_000),
  });
  const probeText = await response.text();
  if (response.status === 404 && !probeText.includes('"code"')) {
    return runInProcess(ctx, options, started, "POST /api/batches is not in the build (404): measured trackBatch in-process instead");
  }
  if (response.status !== 202) throw new Error(`POST /api/batches answered ${response.status}: ${probeText.slice(0, 300)}`);

  const run = async (label: string, durationS: number, connections: number, overallRate?: number) => {
    const result = await runLoad({ url: ctx.nextUrl, connections, durationS, overallRate, next, serverPid: ctx.nextPid });
    log(describeLoad(`${SECTION} ${label}`, result));
    return result;
  };
  await run("warm-up", settings.warmupS, settings.trackingConnections);
  const max = await run("max", settings.maxS, settings.trackingConnections);
  const rate = Math.max(1, Math.round(max.okPerSec * 0.5));
  const atHalf = await run("@50%", settings.rateS, settings.rateConnections, rate);

  const [jobs] = await queryOnce<{ n: string }>(ctx.databaseUrl, "SELECT count(*) AS n FROM jobs WHERE provider = 'simulated'");
  const eventApi = await getJson<{ requests: number; events: number }>(`${ctx.eventApiUrl}/stats`);
  const metrics: Metric[] = [
    { section: SECTION, name: `tracks/s, POST /api/batches (c=${settings.trackingConnections})`, value: max.okPerSec, unit: "req/s" },
    ...(max.serverCpuMsPerOk !== null ? [{ section: SECTION, name: "server CPU per track at max", value: max.serverCpuMsPerOk, unit: "ms" }] : []),
    { section: SECTION, name: "p50 / p99 at max", value: `${max.latencyMs.p50} / ${max.latencyMs.p99}`, unit: "ms" },
    { section: SECTION, name: `p50 / p99 at 50% (${rate}/s)`, value: `${atHalf.latencyMs.p50} / ${atHalf.latencyMs.p99}`, unit: "ms" },
    { section: SECTION, name: "non-2xx or errors (all runs)", value: max.non2xx + max.errors + atHalf.non2xx + atHalf.errors },
  ];
  return {
    section: SECTION,
    metrics,
    details: { mode: "http", settings, max, atHalf, jobsStored: Number(jobs?.n ?? 0), eventApi },
    notes: [`jobs stored: ${jobs?.n}; the stand-in event API has received ${eventApi.events} events so far (ingest's included)`],
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** The fallback: trackBatch in this process, 20 at a time, on the same database. */
async function runInProcess(ctx: HttpContext, options: SectionOptions, started: number, why: string): Promise<SectionResult> {
  log(`${SECTION}: ${why}`);
  const previous = {
    base: process.env.INNGEST_BASE_URL,
    dev: process.env.INNGEST_DEV,
    sim: process.env.BATCHWATCH_SIMULATED_PROVIDER,
    priv: process.env.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS,
  };
  process.env.INNGEST_BASE_URL = ctx.eventApiUrl;
  process.env.INNGEST_DEV = "1";
  process.env.BATCHWATCH_SIMULATED_PROVIDER = "1";
  process.env.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS = "1";
  const { openDatabase } = await import("@/lib/db");
  const { migrate } = await import("@/lib/db/migrations");
  const { trackBatch } = await import("@/lib/track/tracking");
  const { sendEvents } = await import("@/inngest/send");
  // The Inngest client copies the environment when it is created, possibly earlier in this process.
  (await import("@/inngest/client")).inngest.setEnvVars();
  const db = await openDatabase({ driver: "pg", url: ctx.databaseUrl });
  try {
    await migrate(db);
    const nextId = distinctSimulatedIds();
    const durationMs = (options.quick ? 3 : 10) * 1000;
    const concurrency = 20;
    const latencies: number[] = [];
    let failures = 0;
    let firstError: string | undefined;
    const until = performance.now() + durationMs;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until && !(failures >= 100 && latencies.length === 0)) {
          const s = performance.now();
          try {
            await trackBatch(db, { provider: "simulated", batchId: nextId(), webhookUrl: "http://127.0.0.1:9/batchwatch-bench" }, sendEvents);
            latencies.push(performance.now() - s);
          } catch (error) {
            failures += 1;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const sorted = sortedCopy(latencies);
    return {
      section: SECTION,
      metrics: [
        { section: SECTION, name: "tracks/s, trackBatch IN-PROCESS (route missing)", value: round(latencies.length / elapsedS, 1), unit: "/s" },
        { section: SECTION, name: "p50 / p99 (in-process, c=20)", value: `${round(percentile(sorted, 0.5), 1)} / ${round(percentile(sorted, 0.99), 1)}`, unit: "ms" },
        { section: SECTION, name: "failures", value: failures },
      ],
      details: { mode: "in-process", why, tracked: latencies.length, failures, firstError },
      notes: [why, ...(firstError ? [`first failure: ${firstError}`] : [])],
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await db.close();
    for (const [key, value] of [
      ["INNGEST_BASE_URL", previous.base],
      ["INNGEST_DEV", previous.dev],
      ["BATCHWATCH_SIMULATED_PROVIDER", previous.sim],
      ["BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS", previous.priv],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
