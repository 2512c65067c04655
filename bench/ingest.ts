/**
 * Ingest: `POST /api/webhooks/openai` on `next start` (real Postgres, the stand-in Inngest event
 * API) under autocannon with validly signed OpenAI events — a fresh webhook-id, timestamp and
 * signature per request — against the ceiling: a bare node:http server doing the same
 * verification (openai's `webhooks.verifySignature` on the raw text) and answering 200, measured
 * in the same run at the same settings.
 *
 * Runs: warm-up (both), max throughput (both, as fast as `maxConnections` allow), then fixed
 * rates at 25 % and 50 % of OUR max (both servers at the same absolute rates, autocannon's
 * overallRate) for p50/p99 latency.
 */
import { randomBytes } from "node:crypto";
import { type HttpContext, getJson, loadSettings, type SectionOptions, secretKey, standardSignature } from "./lib/context";
import { describeLoad, type LoadResult, runLoad } from "./lib/load";
import { queryOnce } from "./lib/postgres";
import { cpuMs, startTsChild, waitIdle } from "./lib/processes";
import { log, type Metric, round, type SectionResult } from "./lib/stats";

const SECTION = "ingest";
export const INGEST_TARGETS = { throughputRatioMin: 0.5, p99RatioMax: 3 } as const;
const RATE_FRACTIONS = [0.25, 0.5] as const;

/** A request generator: each call is a new, validly signed `batch.completed` event. */
export function signedOpenAIEvents(secret: string, path = "/api/webhooks/openai") {
  const key = secretKey(secret);
  const prefix = randomBytes(3).toString("hex");
  let n = 0;
  return () => {
    n += 1;
    const id = `wh_${prefix}_${n}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body =
      `{"id":"evt_${prefix}_${n}","object":"event","created_at":${timestamp},"type":"batch.completed",` +
      `"data":{"id":"batch_${prefix}_${n}"}}`;
    return {
      method: "POST",
      path,
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": timestamp,
        "webhook-signature": standardSignature(key, id, timestamp, body),
      },
      body,
    };
  };
}

async function smoke(url: string, request: ReturnType<ReturnType<typeof signedOpenAIEvents>>, label: string) {
  const response = await fetch(url + request.path, {
    method: "POST",
    headers: request.headers,
    body: request.body,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${label} answered ${response.status} to a signed event: ${text.slice(0, 300)}`);
}

/**
 * Server CPU per request for `n` requests sent one at a time (no concurrency, so no queueing):
 * where a request's cost goes, independent of how busy the machine is.
 */
async function sequentialCpuMs(pid: number, n: number, call: () => Promise<Response>): Promise<{ cpuMs: number | null; statuses: Record<string, number> }> {
  const statuses: Record<string, number> = {};
  for (let i = 0; i < Math.min(20, n); i++) await (await call()).arrayBuffer(); // warm
  await waitIdle(pid);
  const before = cpuMs(pid);
  for (let i = 0; i < n; i++) {
    const response = await call();
    await response.arrayBuffer();
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  }
  const after = cpuMs(pid);
  return { cpuMs: before === null || after === null ? null : round((after - before) / n, 2), statuses };
}

export async function runIngest(ctx: HttpContext, options: SectionOptions): Promise<SectionResult> {
  const started = performance.now();
  const settings = loadSettings(options.quick);
  const notes: string[] = [];
  const bare = await startTsChild<{ port: number }>("bare verify server", "bench/lib/bare-verify-server.ts", {
    OPENAI_WEBHOOK_SECRET: ctx.openaiWebhookSecret,
  });
  const bareUrl = `http://127.0.0.1:${bare.info.port}`;
  try {
    const ours = signedOpenAIEvents(ctx.openaiWebhookSecret);
    const ceiling = signedOpenAIEvents(ctx.openaiWebhookSecret);
    await smoke(ctx.nextUrl, ours(), "POST /api/webhooks/openai");
    await smoke(bareUrl, ceiling(), "the bare verify server");

    const pids = new Map([[ctx.nextUrl, ctx.nextPid], [bareUrl, bare.child.pid]]);
    const run = async (label: string, url: string, next: typeof ours, durationS: number, connections: number, overallRate?: number) => {
      const result = await runLoad({ url, connections, durationS, overallRate, next, serverPid: pids.get(url) });
      log(describeLoad(`${SECTION} ${label}`, result));
      return result;
    };

    log(`${SECTION}: warm-up ${settings.warmupS} s each`);
    await run("ours warm-up", ctx.nextUrl, ours, settings.warmupS, settings.maxConnections);
    await run("ceiling warm-up", bareUrl, ceiling, settings.warmupS, settings.maxConnections);

    const oursMax = await run("ours max", ctx.nextUrl, ours, settings.maxS, settings.maxConnections);
    const bareMax = await run("ceiling max", bareUrl, ceiling, settings.maxS, settings.maxConnections);
    if (oursMax.ok === 0) throw new Error(`POST /api/webhooks/openai answered no 2xx under load: ${JSON.stringify(oursMax.statusCodes)}`);

    const atRates: { fraction: number; rate: number; ours: LoadResult; ceiling: LoadResult }[] = [];
    for (const fraction of RATE_FRACTIONS) {
      const rate = Math.max(1, Math.round(oursMax.okPerSec * fraction));
      const o = await run(`ours @${fraction * 100}%`, ctx.nextUrl, ours, settings.rateS, settings.rateConnections, rate);
      const c = await run(`ceiling @${fraction * 100}%`, bareUrl, ceiling, settings.rateS, settings.rateConnections, rate);
      atRates.push({ fraction, rate, ours: o, ceiling: c });
    }

    // Where the cost goes: Next's floor (the cheapest route: an unsigned POST to the example receiver,
    // rejected at once), a rejected signature (no database, no send), an accepted event.
    const n = options.quick ? 50 : 200;
    const post = (mutate?: (r: ReturnType<typeof ours>) => void) => () => {
      const r = ours();
      mutate?.(r);
      return fetch(ctx.nextUrl + r.path, { method: "POST", headers: r.headers, body: r.body, signal: AbortSignal.timeout(30_000) });
    };
    const floor = {
      cheapestRoute: await sequentialCpuMs(ctx.nextPid, n, () =>
        fetch(`${ctx.nextUrl}/api/examples/receiver`, { method: "POST", body: "{}", signal: AbortSignal.timeout(30_000) }),
      ),
      rejected: await sequentialCpuMs(ctx.nextPid, n, post((r) => (r.headers["webhook-signature"] = "v1,AAAA"))),
      accepted: await sequentialCpuMs(ctx.nextPid, n, post()),
      ceiling: await sequentialCpuMs(bare.child.pid, n, () => {
        const r = ceiling();
        return fetch(bareUrl + r.path, { method: "POST", headers: r.headers, body: r.body, signal: AbortSignal.timeout(30_000) });
      }),
    };
    log(`${SECTION}: server CPU per sequential request (ms): ${JSON.stringify(floor)}`);

    // What the route claims to have done, it did: one stored row and one event per 2xx.
    const [stored] = await queryOnce<{ n: string }>(ctx.databaseUrl, "SELECT count(*) AS n FROM inbound_events WHERE source = 'openai'");
    const eventApi = await getJson<{ requests: number; events: number }>(`${ctx.eventApiUrl}/stats`);

    const cpuRow: Metric[] =
      floor.cheapestRoute.cpuMs !== null
        ? [
            {
              section: SECTION,
              name: "server CPU/request, one at a time: cheapest route | bad sig | accepted | ceiling",
              value: `${floor.cheapestRoute.cpuMs} | ${floor.rejected.cpuMs} | ${floor.accepted.cpuMs} | ${floor.ceiling.cpuMs}`,
              unit: "ms",
            },
          ]
        : [];
    const throughputRatio = round(oursMax.okPerSec / Math.max(1e-9, bareMax.okPerSec), 3);
    const metrics: Metric[] = [
      { section: SECTION, name: `max throughput, ours (c=${settings.maxConnections})`, value: oursMax.okPerSec, unit: "req/s" },
      { section: SECTION, name: "max throughput, bare verify ceiling", value: bareMax.okPerSec, unit: "req/s" },
      ...(oursMax.serverCpuMsPerOk !== null && bareMax.serverCpuMsPerOk !== null
        ? [
            {
              section: SECTION,
              name: "server CPU per request at max, ours | ceiling",
              value: `${oursMax.serverCpuMsPerOk} | ${bareMax.serverCpuMsPerOk}`,
              unit: "ms",
            },
          ]
        : []),
      {
        section: SECTION,
        name: "throughput, ours / ceiling",
        value: throughputRatio,
        target: `≥ ${INGEST_TARGETS.throughputRatioMin}`,
        met: throughputRatio >= INGEST_TARGETS.throughputRatioMin,
      },
    ];
    metrics.push(...cpuRow);
    for (const r of atRates) {
      const pct = `${r.fraction * 100}% (${r.rate}/s)`;
      const p99Ratio = round(r.ours.latencyMs.p99 / Math.max(1e-9, r.ceiling.latencyMs.p99), 2);
      metrics.push(
        { section: SECTION, name: `p50 / p99 at ${pct}, ours`, value: `${r.ours.latencyMs.p50} / ${r.ours.latencyMs.p99}`, unit: "ms" },
        { section: SECTION, name: `p50 / p99 at ${pct}, ceiling`, value: `${r.ceiling.latencyMs.p50} / ${r.ceiling.latencyMs.p99}`, unit: "ms" },
        {
          section: SECTION,
          name: `p99 at ${pct}, ours / ceiling`,
          value: p99Ratio,
          target: `≤ ${INGEST_TARGETS.p99RatioMax}`,
          met: p99Ratio <= INGEST_TARGETS.p99RatioMax,
        },
      );
      const achieved = r.ours.okPerSec / r.rate;
      if (achieved < 0.9) notes.push(`ours sustained only ${round(achieved * 100, 0)}% of the ${r.rate}/s asked at ${r.fraction * 100}%`);
    }

    const oursNon2xx = [oursMax, ...atRates.map((r) => r.ours)].reduce((n, r) => n + r.non2xx + r.errors, 0);
    metrics.push({ section: SECTION, name: "non-2xx or errors, ours (all runs)", value: oursNon2xx });
    notes.push(
      `inbound_events rows: ${stored?.n}; events the stand-in event API received: ${eventApi.events} (in ${eventApi.requests} sends) — ` +
        `every accepted webhook (smoke, warm-up, measured and one-at-a-time requests) was stored and sent once`,
    );
    return {
      section: SECTION,
      metrics,
      details: {
        settings,
        ceiling: "node:http + openai webhooks.verifySignature on the raw body, answering 200 (no database, no event send)",
        max: { ours: oursMax, ceiling: bareMax },
        sequentialServerCpuMs: floor,
        rates: atRates,
        stored: Number(stored?.n ?? 0),
        eventApi,
      },
      notes,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await bare.child.stop();
  }
}
