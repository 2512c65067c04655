/**
 * `npm run bench` — every benchmark, one table (or with --json one JSON object on stdout).
 *
 *   npm run bench [-- --json] [--only <section>[,<section>…]] [--quick] [--no-build]
 *
 * Sections: polling, eta, ingest, delivery, tracking, results, and scale (only when named:
 * `--only scale` seeds 10k and 100k jobs, `--scale-1m` adds 1M, `--scale-timeline <n>` sets the
 * timeline rows per job, 10 by default). Benchmarks report; they never fail:
 * the exit code is 0 whether targets are met or not (and when a section cannot run, the table says
 * why). Every child process and server is stopped at the end, on error and on Ctrl-C.
 *
 * Progress goes to stderr; the table (or the JSON) to stdout.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { BENCH_BATCHES_PER_SEED, BENCH_SEEDS, formatPollingEconomy, formatWorkloadSummary, POLL_PHASES, type PollingEconomyReport } from "./polling-economy";
import { BENCH_WORKLOADS } from "../fixtures/polling/workload";
import { ETA_BENCH_BATCHES_PER_SEED, ETA_BENCH_SEEDS, ETA_CHECKPOINTS, type EtaAccuracyReport, formatEtaAccuracy } from "./eta-accuracy";
import { runDelivery } from "./delivery";
import { runIngest } from "./ingest";
import { closeLoadPools } from "./lib/load";
import type { HttpContext } from "./lib/context";
import { type BuildInfo, ensureBuild, type NextServer, readBuild, startNext } from "./lib/next-server";
import { type BenchDatabase, BENCH_POSTGRES_URL, createBenchDatabase, postgresVersion } from "./lib/postgres";
import { type Child, onInterrupt, ROOT, spawnChild, startTsChild, stopAllChildren, waitForLine } from "./lib/processes";
import { formatTable, guardSection, log, type Metric, type SectionResult } from "./lib/stats";
import { runResultsMemory } from "./results-memory";
import { runTracking } from "./tracking";
import { formatScale, runScale, SCALE_1M, SCALE_SIZES } from "./scale";

export const SECTIONS = ["polling", "eta", "ingest", "delivery", "tracking", "results", "scale"] as const;
/** Sections run when none is named: scale seeds large databases, so it runs only when asked for. */
const DEFAULT_SECTIONS = SECTIONS.filter((section) => section !== "scale");
type Section = (typeof SECTIONS)[number];

interface Options {
  json: boolean;
  quick: boolean;
  build: boolean;
  only: Section[];
  scale1m: boolean;
  scaleTimeline: number;
}

function parseArgs(argv: string[]): Options {
  const only: Section[] = [];
  let scaleTimeline = 10;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--scale-timeline") {
      scaleTimeline = Number(argv[++i]);
      if (!Number.isInteger(scaleTimeline) || scaleTimeline < 4 || scaleTimeline > 50) throw new Error("unknown --scale-timeline value (an integer 4–50)");
    } else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg.startsWith("--only=") ? arg.slice("--only=".length) : argv[++i];
      for (const name of (value ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
        if (!(SECTIONS as readonly string[]).includes(name)) {
          throw new Error(`unknown section "${name}" (known: ${SECTIONS.join(", ")})`);
        }
        only.push(name as Section);
      }
    } else if (!["--json", "--quick", "--no-build", "--scale-1m"].includes(arg)) {
      throw new Error(`unknown argument "${arg}"; usage: npm run bench -- [--json] [--only <section>] [--quick] [--no-build] [--scale-1m] [--scale-timeline <n>]`);
    }
  }
  return {
    json: argv.includes("--json"),
    quick: argv.includes("--quick"),
    build: !argv.includes("--no-build"),
    only: only.length > 0 ? only : [...DEFAULT_SECTIONS],
    scale1m: argv.includes("--scale-1m"),
    scaleTimeline,
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    nproc: os.availableParallelism(),
    cpu: cpus[0]?.model.trim() ?? "unknown",
    memoryGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Longest the polling simulation may take before it is killed and reported as not finishing. */
const POLLING_TIMEOUT_MS = 6 * 60_000;

async function pollingSection(quick: boolean): Promise<SectionResult> {
  const started = performance.now();
  const run = `runBenchWorkloads() (${BENCH_WORKLOADS.length} workloads × seeds ${BENCH_SEEDS.join(", ")} × ${BENCH_BATCHES_PER_SEED} batches)`;
  const child = spawnChild(
    "polling economy",
    process.execPath,
    ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "bench/lib/polling-child.ts")],
    { env: { ...process.env, POLLING_BATCHES_PER_SEED: String(BENCH_BATCHES_PER_SEED) } },
  );
  let reports: PollingEconomyReport[];
  try {
    const match = await waitForLine(child, /^RESULT (.*)$/, POLLING_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`${run} did not finish: ${error.message.split("\n")[0]}`);
    });
    reports = JSON.parse(match[1]!) as PollingEconomyReport[];
  } finally {
    await child.stop();
  }
  const metrics: Metric[] = [];
  for (const r of reports) {
    const s = r.strategies;
    metrics.push({
      section: "polling",
      name: `${r.variant}: mean polls/batch batchwatch | native | cron-60s`,
      value: `${s.batchwatch.polls.mean} | ${s["batchwatch-native"].polls.mean} | ${s["cron-60s"].polls.mean}`,
    });
    metrics.push({
      section: "polling",
      name: `${r.variant}: delay p95 | p99, batchwatch vs cron-60s`,
      value: `${s.batchwatch.detectionDelaySeconds.p95} | ${s.batchwatch.detectionDelaySeconds.p99} vs ${s["cron-60s"].detectionDelaySeconds.p95} | ${s["cron-60s"].detectionDelaySeconds.p99}`,
      unit: "s",
    });
    metrics.push({
      section: "polling",
      name: `${r.variant}: batchwatch polls/batch by what the poll saw (× fewer than the 60 s poll there)`,
      value: POLL_PHASES.filter((p) => r.phases[p].batchwatch >= 0.05)
        .map((p) => `${p} ${r.phases[p].batchwatch} (${r.phases[p].fewer}×)`)
        .join(", "),
    });
    for (const t of r.targets) {
      metrics.push({ section: "polling", name: `${r.variant}: ${t.name}`, value: t.measured, target: `${t.comparison} ${t.threshold}`, met: t.met });
    }
  }
  return {
    section: "polling",
    metrics,
    details: { reports } as unknown as Record<string, unknown>,
    notes: [
      `${run} in a child process: ${reports.reduce((ms, r) => ms + r.elapsedMs, 0)} ms` + (quick ? " (--quick does not shorten it)" : ""),
    ],
    elapsedMs: Math.round(performance.now() - started),
  };
}

async function etaSection(): Promise<SectionResult> {
  const started = performance.now();
  const run = `runEtaBenchWorkloads() (${BENCH_WORKLOADS.length} workloads × seeds ${ETA_BENCH_SEEDS.join(", ")} × ${ETA_BENCH_BATCHES_PER_SEED} batches, asked at ${ETA_CHECKPOINTS.map((c) => `${c * 100}%`).join(", ")} of each life)`;
  const child = spawnChild("ETA accuracy", process.execPath, ["--conditions=react-server", "--import", "tsx", path.join(ROOT, "bench/lib/eta-child.ts")], {
    env: { ...process.env, ETA_BATCHES_PER_SEED: String(ETA_BENCH_BATCHES_PER_SEED) },
  });
  let reports: EtaAccuracyReport[];
  try {
    const match = await waitForLine(child, /^RESULT (.*)$/, POLLING_TIMEOUT_MS).catch((error: Error) => {
      throw new Error(`${run} did not finish: ${error.message.split("\n")[0]}`);
    });
    reports = JSON.parse(match[1]!) as EtaAccuracyReport[];
  } finally {
    await child.stop();
  }
  const share = (x: number | null) => (x === null ? "–" : `${Math.round(100 * x)}%`);
  const metrics: Metric[] = reports.map((r) => ({
    section: "eta",
    name: `${r.variant}: answered | error p50 | p90 | actual end in range`,
    value: `${share(r.overall.answeredShare)} | ${share(r.overall.errorP50)} | ${share(r.overall.errorP90)} | ${share(r.overall.inRange)}`,
  }));
  return {
    section: "eta",
    metrics,
    details: { reports } as unknown as Record<string, unknown>,
    notes: [`${run} in a child process: ${reports.reduce((ms, r) => ms + r.elapsedMs, 0)} ms`],
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** The shared HTTP environment: one fresh database, the stand-in event API and `next start`. */
interface HttpEnvironment {
  context: HttpContext;
  build: BuildInfo;
  server: NextServer;
  eventApi: Child;
}

async function startHttpEnvironment(database: BenchDatabase, allowBuild: boolean): Promise<HttpEnvironment> {
  const build = await ensureBuild(allowBuild);
  const eventApi = await startTsChild<{ port: number }>("stand-in event API", "bench/lib/event-api-server.ts");
  const eventApiUrl = `http://127.0.0.1:${eventApi.info.port}`;
  const openaiWebhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const apiKey = `bw_bench_${randomBytes(16).toString("hex")}`;
  log(`starting next start (build ${build.buildId}, built ${build.builtAt}) on database ${database.name}`);
  const server = await startNext({
    DATABASE_URL: database.url,
    DATABASE_DRIVER: "pg",
    OPENAI_WEBHOOK_SECRET: openaiWebhookSecret,
    INNGEST_DEV: "1",
    INNGEST_BASE_URL: eventApiUrl,
    BATCHWATCH_API_KEY: apiKey,
    BATCHWATCH_SIMULATED_PROVIDER: "1",
    BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "1",
    // Tracking by webhookUrl signs with it; without it the route answers 503 not_configured.
    BATCH_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`,
    // POST /api/bench/constant: Next's own floor, the anchor the HTTP sections measure against.
    BATCHWATCH_BENCH_ROUTES: "1",
  });
  return {
    context: { nextUrl: server.url, nextPid: server.child.pid, databaseUrl: database.url, eventApiUrl, openaiWebhookSecret, apiKey },
    build,
    server,
    eventApi: eventApi.child,
  };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const t0 = performance.now();
  const info = { ...machine(), postgres: "unknown" };
  const results: SectionResult[] = [];
  let database: BenchDatabase | undefined;
  let http: HttpEnvironment | undefined;
  let httpError: Error | undefined;
  const want = (s: Section) => options.only.includes(s);
  onInterrupt(async () => database?.drop());
  // Bounded: whatever happens, the run ends (children killed, database dropped) after this long.
  const mayBuild = options.build && (want("ingest") || want("tracking")) && readBuild() === null;
  const watchdogMs =
    (options.quick ? 15 : 30) * 60_000 + (mayBuild ? 15 * 60_000 : 0) + (want("scale") ? (options.scale1m ? 150 : 15) * 60_000 : 0);
  setTimeout(() => {
    log(`watchdog: still running after ${watchdogMs / 60_000} min; stopping everything`);
    void stopAllChildren()
      .catch(() => undefined)
      .then(() => database?.drop())
      .catch(() => undefined)
      .finally(() => process.exit(0));
  }, watchdogMs).unref();

  try {
    info.postgres = await postgresVersion().catch((error: Error) => `unreachable (${error.message})`);
    const needsDb = want("ingest") || want("tracking") || want("delivery");
    if (needsDb) database = await createBenchDatabase(options.quick ? "quick" : "full").catch((error: Error) => {
      httpError = new Error(`could not create a database on ${BENCH_POSTGRES_URL}: ${error.message}`);
      return undefined;
    });
    const needsHttp = want("ingest") || want("tracking");
    if (needsHttp && database) {
      try {
        http = await startHttpEnvironment(database, options.build);
      } catch (error) {
        httpError = error instanceof Error ? error : new Error(String(error));
        log(`HTTP benchmarks cannot run: ${httpError.message.split("\n")[0]}`);
      }
    }
    const needHttp = async (): Promise<HttpContext> => {
      if (!http) throw httpError ?? new Error("the HTTP environment did not start");
      return http.context;
    };

    for (const section of options.only) {
      log(`── ${section}`);
      const result = await guardSection(section, async () => {
        switch (section) {
          case "polling":
            return await pollingSection(options.quick);
          case "eta":
            return await etaSection();
          case "ingest":
            return runIngest(await needHttp(), options);
          case "tracking":
            return runTracking(await needHttp(), options);
          case "delivery":
            if (!database) throw httpError ?? new Error("no database");
            return runDelivery(database.url, options);
          case "results":
            return runResultsMemory(options);
          case "scale":
            return runScale({ sizes: [...SCALE_SIZES, ...(options.scale1m ? [SCALE_1M] : [])], timelinePerJob: options.scaleTimeline });
        }
      });
      log(`── ${section} done in ${(result.elapsedMs / 1000).toFixed(1)} s${result.error ? ` (error: ${result.error.split("\n")[0]})` : ""}`);
      results.push(result);
    }
  } finally {
    await http?.server.stop().catch(() => undefined);
    await http?.eventApi.stop().catch(() => undefined);
    await closeLoadPools();
    await stopAllChildren().catch(() => undefined);
    await database?.drop().catch((error: Error) => log(`could not drop ${database?.name}: ${error.message}`));
  }

  const totalMs = Math.round(performance.now() - t0);
  const metrics = results.flatMap((r) => r.metrics);
  const targets = metrics.filter((m) => m.met !== undefined);
  const summary = {
    met: targets.filter((m) => m.met).length,
    notMet: targets.filter((m) => m.met === false).map((m) => `${m.section}: ${m.name}`),
    sectionErrors: results.filter((r) => r.error).map((r) => `${r.section}: ${r.error!.split("\n")[0]}`),
  };

  if (options.json) {
    const out = {
      startedAt: startedAt.toISOString(),
      totalMs,
      options,
      machine: { ...info, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
      build: http?.build ?? null,
      sections: Object.fromEntries(results.map((r) => [r.section, r])),
      metrics,
      summary,
    };
    await write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }

  const lines: string[] = [];
  lines.push(
    `batchwatch benchmarks — ${startedAt.toISOString()}${options.quick ? " (--quick: short runs, smaller inputs)" : ""}`,
    `machine: ${info.nproc} CPUs (${info.cpu}), ${info.memoryGB} GB, node ${info.node}, ${info.platform}, ` +
      `Postgres ${info.postgres}, load average ${info.loadAverage.join(" ")} at start, ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} at end`,
  );
  if (http) {
    const b = http.build;
    lines.push(
      `next start: production build ${b.buildId} (${b.builtNow ? `built by this run in ${Math.round((b.buildMs ?? 0) / 1000)} s` : `built ${b.builtAt}`})` +
        (b.note ? ` — ${b.note}` : ""),
    );
  }
  const polling = results.find((r) => r.section === "polling" && !r.error);
  if (polling) {
    const { reports } = polling.details as unknown as { reports: PollingEconomyReport[] };
    for (const report of reports) lines.push("", formatPollingEconomy(report));
    lines.push("", formatWorkloadSummary(reports));
  }
  const eta = results.find((r) => r.section === "eta" && !r.error);
  if (eta) lines.push("", formatEtaAccuracy((eta.details as unknown as { reports: EtaAccuracyReport[] }).reports));
  const scale = results.find((r) => r.section === "scale" && !r.error);
  if (scale) lines.push("", formatScale(scale));
  lines.push("", formatTable(metrics));
  const notes = results.flatMap((r) => r.notes.map((n) => `  ${r.section}: ${n}`));
  if (notes.length > 0) lines.push("", "notes:", ...notes);
  lines.push(
    "",
    `targets: ${summary.met} met, ${summary.notMet.length} not met${summary.notMet.length ? ` (${summary.notMet.join("; ")})` : ""}` +
      (summary.sectionErrors.length ? `; sections that could not run: ${summary.sectionErrors.join("; ")}` : ""),
    `total runtime: ${(totalMs / 1000).toFixed(1)} s`,
  );
  await write(`${lines.join("\n")}\n`);
  return 0;
}

function write(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    // Only a usage error or a bug in the harness lands here; benchmarks still never fail the suite.
    console.error(`[bench] ${error instanceof Error ? error.message : error}`);
    await stopAllChildren().catch(() => undefined);
    process.exit(error instanceof Error && error.message.startsWith("unknown") ? 2 : 0);
  },
);
