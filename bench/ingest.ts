/**
 * Ingest: `POST /api/webhooks/openai` on `next start` against its anchors, in the same run, back
 * to back (bench/lib/anchored.ts): a bare node:http server verifying the same signature (the
 * physical ceiling), and Next's constant POST route outside proxy.ts on the same server (Next's
 * own floor). The route runs on Postgres and on PGlite (a second `next start` with an embedded
 * database, measured against its own constant route). Every request is a validly signed
 * `batch.completed` event with a fresh webhook-id, timestamp and signature.
 *
 * Then nothing lost: every accepted event reached the stand-in event API exactly once — also after
 * an outage of the event API in the middle of a paced run, once it is back.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { anchoredSettings, type Case, caseMetrics, judgedRounds, ratios, ratioTarget, runRounds, smoke, spread } from "./lib/anchored";
import { type HttpContext, getJson, type SectionOptions, secretKey, standardSignature } from "./lib/context";
import { describePaced, paced, type RequestSpec, type Target } from "./lib/load";
import { type NextServer, startNext } from "./lib/next-server";
import { queryOnce } from "./lib/postgres";
import { sleep, startTsChild } from "./lib/processes";
import pg from "pg";
import { log, type Metric, percentile, round, type SectionResult, sortedCopy } from "./lib/stats";

const SECTION = "ingest";
export const INGEST_TARGETS = { throughputRatioMin: 0.75, p99RatioMax: 2 } as const;

/** A request generator: each call is a new, validly signed `batch.completed` event. */
export function signedOpenAIEvents(secret: string, path = "/api/webhooks/openai") {
  const key = secretKey(secret);
  const prefix = randomBytes(3).toString("hex");
  let n = 0;
  return (): RequestSpec => {
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

/** The anchors every HTTP section measures against: the bare verifier and Next's constant route. */
export function anchorCases(ctx: HttpContext, bare: { url: string; pid: number }): Case[] {
  return [
    { key: "bare", label: "bare node:http verifying the signature", target: { url: bare.url, pid: bare.pid, next: signedOpenAIEvents(ctx.openaiWebhookSecret, "/") } },
    {
      key: "constant",
      label: "Next constant POST route, no proxy",
      // The same signed body as the webhook, so the two differ only in what the route does.
      target: { url: ctx.nextUrl, pid: ctx.nextPid, next: signedOpenAIEvents(ctx.openaiWebhookSecret, "/api/bench/constant") },
    },
  ];
}

/**
 * Where the route's time goes, at saturation: the same route refusing a bad signature (config, body,
 * verification: no database), and answering a provider's retry of one stored event (adds the
 * statement, which finds the event and queues nothing: no send after the answer).
 */
function partCases(ctx: HttpContext): Case[] {
  const fresh = signedOpenAIEvents(ctx.openaiWebhookSecret);
  const retried = fresh();
  const key = secretKey(ctx.openaiWebhookSecret);
  const id = retried.headers["webhook-id"]!;
  return [
    {
      key: "openai-bad-signature",
      label: "  part: openai route, bad signature (400)",
      saturationOnly: true,
      target: {
        url: ctx.nextUrl,
        pid: ctx.nextPid,
        okStatus: 400, // invalid_signature (lib/errors.ts)
        next: () => {
          const spec = fresh();
          return { ...spec, headers: { ...spec.headers, "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" } };
        },
      },
    },
    {
      key: "openai-duplicate",
      label: "  part: openai route, a retried event (stored, nothing sent)",
      saturationOnly: true,
      target: {
        url: ctx.nextUrl,
        pid: ctx.nextPid,
        tally: { ok: 0 },
        next: () => {
          const timestamp = String(Math.floor(Date.now() / 1000));
          return { ...retried, headers: { ...retried.headers, "webhook-timestamp": timestamp, "webhook-signature": standardSignature(key, id, timestamp, retried.body) } };
        },
      },
    },
  ];
}

export async function startBareVerifier(ctx: HttpContext) {
  const bare = await startTsChild<{ port: number }>("bare verify server", "bench/lib/bare-verify-server.ts", {
    OPENAI_WEBHOOK_SECRET: ctx.openaiWebhookSecret,
  });
  return { child: bare.child, url: `http://127.0.0.1:${bare.info.port}`, pid: bare.child.pid };
}

interface EventApiStats {
  requests: number;
  events: number;
  distinct: number;
  duplicates: number;
  byName: Record<string, number>;
  refused: number;
}

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(250);
  }
}

/**
 * Nothing lost on Postgres: a paced run with the event API down for its middle third, then every
 * outbox entry sent, and the event API holding each signal exactly once.
 */
async function outageRun(ctx: HttpContext, target: Target, durationS: number) {
  const post = (what: "down" | "up") => fetch(`${ctx.eventApiUrl}/${what}`, { method: "POST", signal: AbortSignal.timeout(5_000) }).then((r) => r.arrayBuffer());
  const outage = (async () => {
    await sleep((durationS * 1000) / 3);
    await post("down");
    await sleep((durationS * 1000) / 3);
    await post("up");
  })();
  const run = await paced(target, { rate: 100, durationS });
  await outage;
  log(describePaced(`${SECTION} outage run`, run));
  const started = performance.now();
  const unsent = async () => Number((await queryOnce<{ n: string }>(ctx.databaseUrl, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]?.n ?? -1);
  const drained = await eventually(async () => (await unsent()) === 0, 30_000);
  return { run, drained, drainedInMs: Math.round(performance.now() - started), unsent: await unsent() };
}

/**
 * Postgres's own floor for a 2xx: one single-row INSERT committed (fsync'd) at a time, evenly paced
 * at `rate` from this process, on the run's database — what every accepted webhook must wait for.
 */
export function commitProbe(databaseUrl: string, rate: number, durationS: number) {
  return async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query("CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY, payload jsonb NOT NULL)");
      const latencies: number[] = [];
      const start = performance.now();
      for (let i = 0; i < rate * durationS; i++) {
        const wait = start + (i * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        const t = performance.now();
        await client.query("INSERT INTO bench_commit_probe (payload) VALUES ($1)", ['{"probe":true}']);
        latencies.push(performance.now() - t);
      }
      const sorted = sortedCopy(latencies);
      return { commitMs: { p50: round(percentile(sorted, 0.5), 2), p99: round(percentile(sorted, 0.99), 2) } };
    } finally {
      await client.end();
    }
  };
}

async function startPgliteServer(ctx: HttpContext): Promise<{ server: NextServer; eventApi: Awaited<ReturnType<typeof startTsChild<{ port: number }>>>; dataDir: string; eventApiUrl: string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bw-bench-pglite-"));
  const eventApi = await startTsChild<{ port: number }>("stand-in event API (PGlite server)", "bench/lib/event-api-server.ts");
  const eventApiUrl = `http://127.0.0.1:${eventApi.info.port}`;
  try {
    const server = await startNext({
      DATABASE_URL: undefined,
      DATABASE_DRIVER: undefined,
      BATCHWATCH_DATA_DIR: dataDir,
      OPENAI_WEBHOOK_SECRET: ctx.openaiWebhookSecret,
      INNGEST_DEV: "1",
      INNGEST_BASE_URL: eventApiUrl,
      BATCHWATCH_API_KEY: ctx.apiKey,
      BATCHWATCH_BENCH_ROUTES: "1",
    });
    return { server, eventApi, dataDir, eventApiUrl };
  } catch (error) {
    await eventApi.child.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

export async function runIngest(ctx: HttpContext, options: SectionOptions): Promise<SectionResult> {
  const started = performance.now();
  const settings = anchoredSettings(options.quick);
  const notes: string[] = [];
  const bare = await startBareVerifier(ctx);
  let pglite: Awaited<ReturnType<typeof startPgliteServer>> | undefined;
  try {
    pglite = await startPgliteServer(ctx).catch((error: Error) => {
      notes.push(`the PGlite server did not start, so PGlite is not measured: ${error.message.split("\n")[0]}`);
      return undefined;
    });
    const openaiPg: Case = {
      key: "openai-pg",
      label: "POST /api/webhooks/openai, Postgres",
      target: { url: ctx.nextUrl, pid: ctx.nextPid, next: signedOpenAIEvents(ctx.openaiWebhookSecret), tally: { ok: 0 } },
    };
    const cases: Case[] = [...anchorCases(ctx, bare), ...partCases(ctx), openaiPg];
    let openaiPglite: Case | undefined;
    if (pglite) {
      const pid = pglite.server.child.pid;
      openaiPglite = {
        key: "openai-pglite",
        label: "POST /api/webhooks/openai, PGlite",
        target: { url: pglite.server.url, pid, next: signedOpenAIEvents(ctx.openaiWebhookSecret), tally: { ok: 0 } },
      };
      cases.push(openaiPglite);
    }
    for (const c of cases) await smoke(c);

    const rounds = await runRounds(SECTION, cases, settings, { probe: commitProbe(ctx.databaseUrl, settings.rate, options.quick ? 2 : 4) });
    const judged = judgedRounds(rounds);
    notes.push(`targets judged on the median of the rounds: ${judged.note}`);
    const metrics: Metric[] = caseMetrics(SECTION, cases, rounds, judged.rounds, settings);

    const pgRatio = ratios(judged.rounds, "openai-pg", "constant");
    const commits = judged.rounds.map((r) => (r.probe as { commitMs: { p50: number; p99: number } }).commitMs);
    const cpu = (key: string) => judged.rounds.map((r) => r.results[key]!.saturation.cpuMsPerOk ?? NaN);
    const [openaiCpu, constantCpu] = [cpu("openai-pg"), cpu("constant")];
    metrics.push(
      {
        section: SECTION,
        name: `Postgres alone: one INSERT committed, p50 | p99 at ${settings.rate}/s paced`,
        value: `${spread(commits.map((c) => c.p50), 2)} | ${spread(commits.map((c) => c.p99), 2)}`,
        unit: "ms",
      },
      {
        section: SECTION,
        name: "openai (Postgres) server CPU per request / constant route's",
        value: spread(openaiCpu.map((x, i) => x / constantCpu[i]!), 2),
      },
      ratioTarget(SECTION, "openai (Postgres) throughput / Next constant route's", pgRatio.throughput, "≥", INGEST_TARGETS.throughputRatioMin),
      ratioTarget(SECTION, `openai (Postgres) p99 / constant route's p99, ${settings.rate} req/s paced`, pgRatio.p99, "≤", INGEST_TARGETS.p99RatioMax),
      { section: SECTION, name: "openai (Postgres) throughput / bare node:http verifier's", value: spread(ratios(judged.rounds, "openai-pg", "bare").throughput, 3) },
    );
    if (openaiPglite) {
      // Measured against the Postgres server's constant route: the same build, another process.
      const lite = ratios(judged.rounds, "openai-pglite", "constant");
      metrics.push(
        { section: SECTION, name: "openai (PGlite) throughput / Next constant route's", value: spread(lite.throughput, 2) },
        { section: SECTION, name: `openai (PGlite) p99 / constant route's p99, ${settings.rate} req/s`, value: spread(lite.p99, 2) },
      );
    }

    // Nothing lost.
    const outage = await outageRun(ctx, openaiPg.target, options.quick ? 6 : 15);
    const [stored] = await queryOnce<{ inbound: string; outbox: string }>(
      ctx.databaseUrl,
      "SELECT (SELECT count(*) FROM inbound_events WHERE source = 'openai') AS inbound, (SELECT count(*) FROM outbox WHERE name = 'batch/signal.received') AS outbox",
    );
    const pgStats = await getJson<EventApiStats>(`${ctx.eventApiUrl}/stats`);
    const signalsPg = pgStats.byName["batch/signal.received"] ?? 0;
    // Every accepted event, plus the one event the retried-event case stored on its first request.
    const retriedCase = cases.find((c) => c.key === "openai-duplicate")!;
    const pgAccepted = openaiPg.target.tally!.ok + Math.min(1, retriedCase.target.tally!.ok);
    const pgWhole = outage.drained && Number(stored?.inbound) === pgAccepted && Number(stored?.outbox) === pgAccepted && signalsPg === pgAccepted && pgStats.duplicates === 0;
    metrics.push({
      section: SECTION,
      name: "nothing lost, Postgres: accepted = stored = signals received once (event API down for a third of a run)",
      value: `${pgAccepted} = ${stored?.inbound} = ${signalsPg}, ${pgStats.duplicates} duplicates, ${outage.unsent} unsent`,
      target: "all equal, 0 dupl.",
      met: pgWhole,
    });
    notes.push(
      `outage run (100 req/s, ${options.quick ? 6 : 15} s, event API down for the middle third): ${outage.run.ok}/${outage.run.requests} answered 2xx, ` +
        `p99 ${outage.run.latencyMs.p99} ms; ${pgStats.refused} sends refused while down; ` +
        (outage.drained ? `every outbox entry sent ${outage.drainedInMs} ms after the run` : `${outage.unsent} entries still unsent 30 s after the run`),
      `the Postgres server's event API took ${pgStats.events} events in ${pgStats.requests} sends (${(pgStats.events / Math.max(1, pgStats.requests)).toFixed(1)} per send: the answers of concurrent requests share one)`,
    );
    let pgliteStats: EventApiStats | undefined;
    if (pglite && openaiPglite) {
      const accepted = openaiPglite.target.tally!.ok;
      const url = pglite.eventApiUrl;
      await eventually(async () => ((await getJson<EventApiStats>(`${url}/stats`)).byName["batch/signal.received"] ?? 0) >= accepted, 15_000);
      pgliteStats = await getJson<EventApiStats>(`${url}/stats`);
      const received = pgliteStats.byName["batch/signal.received"] ?? 0;
      metrics.push({
        section: SECTION,
        name: "nothing lost, PGlite: accepted = signals received once",
        value: `${accepted} = ${received}, ${pgliteStats.duplicates} duplicates`,
        target: "equal, 0 dupl.",
        met: received === accepted && pgliteStats.duplicates === 0,
      });
    }
    return {
      section: SECTION,
      metrics,
      details: { settings, rounds, judged: judged.note, outage, stored, eventApi: pgStats, pgliteEventApi: pgliteStats ?? null },
      notes,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await bare.child.stop();
    if (pglite) {
      await pglite.server.stop();
      await pglite.eventApi.child.stop();
      rmSync(pglite.dataDir, { recursive: true, force: true });
    }
  }
}
