/**
 * Tracking: `POST /api/batches` on the same `next start` server (real Postgres, API key auth
 * through proxy.ts and the route, the simulated provider, the stand-in Inngest event API), a
 * distinct simulated batch id per request, measured as ingest is (bench/lib/anchored.ts): against
 * the same anchors — the bare node:http verifier and Next's constant POST route — in the same run,
 * back to back, over several rounds. Then every tracked batch's `batch/tracked` event must have
 * reached the event API exactly once.
 */
import { anchoredSettings, type Case, caseMetrics, judgedRounds, ratios, ratioTarget, runRounds, smoke, spread } from "./lib/anchored";
import { type HttpContext, getJson, type SectionOptions } from "./lib/context";
import { INGEST_TARGETS, anchorCases, startBareVerifier } from "./ingest";
import { queryOnce } from "./lib/postgres";
import { sleep } from "./lib/processes";
import type { RequestSpec } from "./lib/load";
import type { Metric, SectionResult } from "./lib/stats";

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
  const settings = anchoredSettings(options.quick);
  const nextId = distinctSimulatedIds();
  // Nothing is ever delivered here (no Inngest runs the watch); the URL only has to be valid.
  const webhookUrl = "http://127.0.0.1:9/batchwatch-bench";
  const track: Case = {
    key: "tracking",
    label: "POST /api/batches (through proxy.ts)",
    target: {
      url: ctx.nextUrl,
      pid: ctx.nextPid,
      tally: { ok: 0 },
      next: (): RequestSpec => ({
        method: "POST",
        path: "/api/batches",
        headers: { "content-type": "application/json", authorization: `Bearer ${ctx.apiKey}` },
        body: JSON.stringify({ provider: "simulated", batchId: nextId(), webhookUrl, metadata: { bench: true } }),
      }),
    },
  };
  // Where tracking's time goes: the same request with a wrong key is turned away by proxy.ts (Next
  // plus the proxy and the failed attempt it records, no route); the rest is the route's own work.
  // Each wrong key comes from a client of its own (X-Forwarded-For, which `next start` passes on):
  // after 10 from one client the throttle answers 429 to every request of that client, this
  // bench's good ones included.
  let refusedClients = 0;
  const refused: Case = {
    key: "tracking-bad-key",
    label: "  part: POST /api/batches, wrong API key (401 from proxy.ts)",
    saturationOnly: true,
    target: {
      url: ctx.nextUrl,
      pid: ctx.nextPid,
      okStatus: 401,
      next: () => {
        const spec = track.target.next();
        refusedClients += 1;
        const client = `198.18.${(refusedClients >> 8) & 255}.${refusedClients & 255}`;
        return { ...spec, headers: { ...spec.headers, authorization: "Bearer not-the-key", "x-forwarded-for": client } };
      },
    },
  };
  const bare = await startBareVerifier(ctx);
  try {
    const cases: Case[] = [...anchorCases(ctx, bare), refused, track];
    for (const c of cases) await smoke(c);
    const rounds = await runRounds(SECTION, cases, settings);
    const judged = judgedRounds(rounds);
    const metrics: Metric[] = caseMetrics(SECTION, cases, rounds, judged.rounds, settings);
    const r = ratios(judged.rounds, "tracking", "constant");
    metrics.push(
      ratioTarget(SECTION, "tracking throughput / Next constant route's", r.throughput, "≥", INGEST_TARGETS.throughputRatioMin),
      ratioTarget(SECTION, `tracking p99 / constant route's p99, ${settings.rate} req/s paced`, r.p99, "≤", INGEST_TARGETS.p99RatioMax),
      { section: SECTION, name: "tracking throughput / bare node:http verifier's", value: spread(ratios(judged.rounds, "tracking", "bare").throughput, 3) },
    );

    // Every tracked batch's event reached the event API, once.
    const accepted = track.target.tally!.ok;
    const tracked = async () =>
      (await getJson<{ byName: Record<string, number>; duplicates: number }>(`${ctx.eventApiUrl}/stats`));
    const deadline = Date.now() + 30_000;
    while (((await tracked()).byName["batch/tracked"] ?? 0) < accepted && Date.now() < deadline) await sleep(250);
    const stats = await tracked();
    const [jobs] = await queryOnce<{ n: string }>(ctx.databaseUrl, "SELECT count(*) AS n FROM jobs WHERE provider = 'simulated'");
    const received = stats.byName["batch/tracked"] ?? 0;
    metrics.push({
      section: SECTION,
      name: "nothing lost: accepted = jobs stored = batch/tracked received once",
      value: `${accepted} = ${jobs?.n} = ${received}, ${stats.duplicates} duplicates`,
      target: "all equal, 0 dupl.",
      met: Number(jobs?.n) === accepted && received === accepted && stats.duplicates === 0,
    });
    return {
      section: SECTION,
      metrics,
      details: { settings, rounds, judged: judged.note, eventApi: stats },
      notes: [`targets judged on the median of the rounds: ${judged.note}`],
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await bare.child.stop();
  }
}
