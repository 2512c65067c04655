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
import { startTsChild } from "./lib/processes";
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

    const run = async (label: string, url: string, next: typeof ours, durationS: number, connections: number, overallRate?: number) => {
      const result = await runLoad({ url, connections, durationS, overallRate, next });
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

    // What the route claims to have done, it did: one stored row and one event per 2xx.
    const [stored] = await queryOnce<{ n: string }>(ctx.databaseUrl, "SELECT count(*) AS n FROM inbound_events WHERE source = 'openai'");
    const eventApi = await getJson<{ requests: number; events: number }>(`${ctx.eventApiUrl}/stats`);

    const throughputRatio = round(oursMax.okPerSec / Math.max(1e-9, bareMax.okPerSec), 3);
    const metrics: Metric[] = [
      { section: SECTION, name: `max throughput, ours (c=${settings.maxConnections})`, value: oursMax.okPerSec, unit: "req/s" },
      { section: SECTION, name: "max throughput, bare verify ceiling", value: bareMax.okPerSec, unit: "req/s" },
      {
        section: SECTION,
        name: "throughput, ours / ceiling",
        value: throughputRatio,
        target: `≥ ${INGEST_TARGETS.throughputRatioMin}`,
        met: throughputRatio >= INGEST_TARGETS.throughputRatioMin,
      },
    ];
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

    const oursAnswered = [oursMax, ...atRates.map((r) => r.ours)].reduce((n, r) => n + r.ok, 0);
    const oursNon2xx = [oursMax, ...atRates.map((r) => r.ours)].reduce((n, r) => n + r.non2xx + r.errors, 0);
    metrics.push({ section: SECTION, name: "non-2xx or errors, ours (all runs)", value: oursNon2xx });
    notes.push(
      `inbound_events rows: ${stored?.n}; events received by the stand-in event API: ${eventApi.events} ` +
        `(in ${eventApi.requests} sends); 2xx answers counted by autocannon (measured runs, plus warm-up and smoke not counted): ${oursAnswered}`,
    );
    return {
      section: SECTION,
      metrics,
      details: {
        settings,
        ceiling: "node:http + openai webhooks.verifySignature on the raw body, answering 200 (no database, no event send)",
        max: { ours: oursMax, ceiling: bareMax },
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
