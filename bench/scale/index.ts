/**
 * Scale: the app's own query functions on a database of 10k and 100k jobs (and 1M with
 * --scale-1m), seeded set-based in realistic proportions (seed.ts). Each operation runs once to
 * warm the cache, then five times; the median and the spread (min–max) are reported, with the
 * growth from one size to the next. Mutating operations (the reconciler, settle, recover,
 * retention) run after the reads, retention last. Every size gets its own throwaway database.
 */
import os from "node:os";
import pg from "pg";
import { nowDate } from "@/lib/clock";
import type { Database, Queryable } from "@/lib/db";
import { openNodePostgres } from "@/lib/db/drivers/pg";
import { encodeCursor } from "@/lib/db/cursor";
import { migrate, MIGRATIONS } from "@/lib/db/migrations";
import { loadBatchList, loadBatchPage } from "@/lib/dashboard/batches";
import { loadDeliveriesOverview } from "@/lib/dashboard/deliveries";
import { loadEndpointPage } from "@/lib/dashboard/endpoints";
import { loadEngineHealth } from "@/lib/dashboard/engine-health";
import { deliverToLateSubscribers } from "@/lib/deliver/create-deliveries";
import { listEndpointDeliveries } from "@/lib/deliver/endpoint-deliveries";
import { listEndpoints } from "@/lib/deliver/endpoints";
import { previewRecovery, recoverFailedDeliveries } from "@/lib/deliver/resend";
import type { EventSender } from "@/lib/events/outbox";
import { flushStaleOutbox } from "@/lib/events/outbox";
import { getJobDetail, listJobs } from "@/lib/jobs/queries";
import { deleteExpiredHistory } from "@/lib/ops/retention";
import { getProvider } from "@/lib/providers";
import type { JobRow } from "@/lib/jobs/store";
import type { JobKind, ProviderName, UnifiedStatus } from "@/lib/providers/types";
import { settleJob } from "@/lib/settle/settlement";
import { trackBatch } from "@/lib/track/tracking";
import { untrackSubscription } from "@/lib/track/untrack";
import { receiveOpenAIWebhook } from "@/lib/watch/openai-webhook";
import { claimWatch, nativeSignalsLive, pollOnce, reviveLostWatchers } from "@/lib/watch/watching";
import { signedOpenAIEvents } from "../ingest";
import { createBenchDatabase, type BenchDatabase } from "../lib/postgres";
import { log, type Metric, round, type SectionResult } from "../lib/stats";
import { SEED_DAYS, SEED_ENDPOINTS, seededUuid, seedScaleData, type SeedCounts } from "./seed";

const SECTION = "scale";
export const SCALE_SIZES = [10_000, 100_000] as const;
export const SCALE_1M = 1_000_000;
const RUNS = 5;
/** Goals at the largest size (issue #19): per query, and per reconciler pass in all. */
export const QUERY_GOAL_MS = 50;
export const RECONCILER_GOAL_MS = 200;
export const STATEMENT_GOAL_MS = 1_000;

/** The admin connection the scale databases are created from (TEST_DATABASE_URL's server by default). */
export const SCALE_POSTGRES_URL =
  process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

export interface ScaleOptions {
  sizes: number[];
  timelinePerJob: number;
}

type Group = "API" | "dashboard" | "poll" | "settlement" | "reconciler" | "retention";

interface Measured {
  name: string;
  group: Group;
  /** Median, min and max of the timed runs, ms. */
  median: number;
  min: number;
  max: number;
  runs: number;
  /** The longest single statement, ms (what holds locks longest). */
  longestStatement: number;
  statements: number;
  note?: string;
}

interface SizeReport {
  jobs: number;
  counts: SeedCounts;
  seedMs: number;
  databaseSize: string;
  upgrade: UpgradeReport | null;
  operations: Measured[];
  loadAverage: number[];
}

interface UpgradeReport {
  /** Migrations applied to the seeded data, and how long they took in all. */
  applied: number[];
  elapsedMs: number;
  /** Writes (a job and a subscription each) made while the migration ran, and the slowest of them. */
  writes: number;
  slowestWriteMs: number;
}

const noSend: EventSender = async () => undefined;
/** The simulated batches the bench tracks get totals from here on (the id must be new each run). */
const SIMULATED_TOTAL_BASE = 100;

/** A Database that times every statement it runs (wall time, ms) into `statements`. */
function timed(db: Database): { db: Database; statements: number[] } {
  const statements: number[] = [];
  const wrap = (target: Queryable): Queryable => ({
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const started = performance.now();
      try {
        return await target.query<Row>(sql, params);
      } finally {
        statements.push(performance.now() - started);
      }
    },
    async exec(script: string) {
      const started = performance.now();
      try {
        await target.exec(script);
      } finally {
        statements.push(performance.now() - started);
      }
    },
  });
  return {
    statements,
    db: { ...db, ...wrap(db), transaction: (work) => db.transaction((tx) => work(wrap(tx))), close: () => db.close() } as Database,
  };
}

async function measure(
  name: string,
  group: Group,
  base: Database,
  run: (db: Database, index: number) => Promise<unknown>,
  options: { runs?: number; warmUp?: boolean; note?: string } = {},
): Promise<Measured> {
  const runs = options.runs ?? RUNS;
  const { db, statements } = timed(base);
  if (options.warmUp ?? true) await run(db, -1);
  statements.length = 0;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await run(db, i);
    times.push(performance.now() - started);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const result: Measured = {
    name,
    group,
    median: round(sorted[Math.floor(sorted.length / 2)]!, 1),
    min: round(sorted[0]!, 1),
    max: round(sorted.at(-1)!, 1),
    runs,
    longestStatement: round(Math.max(0, ...statements), 1),
    statements: statements.length,
    ...(options.note ? { note: options.note } : {}),
  };
  log(`  ${name}: ${result.median} ms (${result.min}–${result.max})`);
  return result;
}

interface SeededJob {
  id: string;
  provider: ProviderName;
  kind: JobKind;
  batch_id: string;
  tracked_at_text: string;
}

async function jobAt(db: Queryable, rowNumber: number): Promise<SeededJob> {
  const [job] = await db.query<SeededJob>(
    `SELECT id, provider, kind, batch_id, tracked_at::text AS tracked_at_text FROM jobs WHERE id = ${seededUuid("'job' || $1::int")}`,
    [Math.trunc(rowNumber)],
  );
  if (!job) throw new Error(`no seeded job ${rowNumber}`);
  return job;
}

function terminalSnapshot(job: { provider: ProviderName; kind: JobKind; batch_id: string }) {
  const at = nowDate().toISOString();
  return {
    provider: job.provider,
    kind: job.kind,
    id: job.batch_id,
    status: "completed" as UnifiedStatus,
    terminal: true,
    providerStatus: "completed",
    requestCounts: { total: 1000, completed: 1000, failed: 0 },
    progress: 1,
    createdAt: at,
    endedAt: at,
    expiresAt: null,
    raw: {},
    detail: null,
  };
}

/** Writes while a migration runs: one job and one subscription per statement pair, until stopped. */
function writeLoop(url: string) {
  const client = new pg.Client({ connectionString: url });
  let stop = false;
  let writes = 0;
  let slowest = 0;
  const done = (async () => {
    await client.connect();
    try {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const { rows } = await client.query<{ id: string }>(
          "INSERT INTO jobs (provider, batch_id) VALUES ('openai', $1) RETURNING id",
          [`batch_upgrade_${i}_${Date.now()}`],
        );
        await client.query(
          "INSERT INTO subscriptions (job_id, destination_key, webhook_url) VALUES ($1, 'url:https://upgrade.example.com', 'https://upgrade.example.com')",
          [rows[0]!.id],
        );
        slowest = Math.max(slowest, performance.now() - started);
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await client.end();
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return { writes, slowestWriteMs: round(slowest, 1) };
    },
  };
}

async function runSize(jobs: number, options: ScaleOptions): Promise<SizeReport> {
  const label = jobs >= 1_000_000 ? `${jobs / 1_000_000}m` : `${jobs / 1000}k`;
  let database: BenchDatabase | undefined;
  let db: Database | undefined;
  try {
    database = await createBenchDatabase(`scale_${label}`, SCALE_POSTGRES_URL);
    log(`scale ${label}: database ${database.name}`);
    db = openNodePostgres(database.url, { max: 4 });
    // Seeded on the schema before the migrations that build indexes concurrently, which then run
    // on the seeded data while writes go on: that is the upgrade an operator sees.
    const concurrentVersions = await seedOnSchemaBeforeUpgrade(db);
    const seedStarted = performance.now();
    const seeded = await seedScaleData(database.url, { jobs, timelinePerJob: options.timelinePerJob, log: (m) => log(`  ${label}: ${m}`) });
    const seedMs = Math.round(performance.now() - seedStarted);
    let upgrade: UpgradeReport | null = null;
    if (concurrentVersions) {
      const writer = writeLoop(database.url);
      const started = performance.now();
      const result = await migrate(db);
      const elapsedMs = Math.round(performance.now() - started);
      const writes = await writer.stop();
      // Its jobs would be unsettled jobs without a watcher: the reconciler's work, not the data's.
      await db.query("DELETE FROM jobs WHERE batch_id LIKE 'batch_upgrade_%'");
      upgrade = { applied: result.applied, elapsedMs, ...writes };
      await db.query("ANALYZE");
      log(`  ${label}: upgrade (migrations ${result.applied.join(", ")}) in ${elapsedMs} ms; ${writes.writes} writes meanwhile, slowest ${writes.slowestWriteMs} ms`);
    }
    const [size] = await db.query<{ size: string }>("SELECT pg_size_pretty(pg_database_size(current_database())) AS size");
    log(`  ${label}: seeded ${JSON.stringify(seeded.counts)} in ${(seedMs / 1000).toFixed(0)} s (${size!.size})`);
    const operations = await runOperations(db, jobs);
    return { jobs, counts: seeded.counts, seedMs, databaseSize: size!.size, upgrade, operations, loadAverage: os.loadavg().map((l) => round(l, 2)) };
  } finally {
    await db?.close().catch(() => undefined);
    await database?.drop().catch((error: Error) => log(`could not drop ${database?.name}: ${error.message}`));
  }
}

/**
 * Migrates up to (not including) the first migration that builds indexes concurrently; returns
 * whether it stopped short (the rest run after seeding, as the upgrade an operator sees).
 */
async function seedOnSchemaBeforeUpgrade(db: Database): Promise<boolean> {
  const firstConcurrent = MIGRATIONS.find((migration) => migration.concurrently);
  await migrate(db, firstConcurrent ? { through: firstConcurrent.version - 1 } : {});
  return firstConcurrent !== undefined;
}

async function runOperations(db: Database, jobs: number): Promise<Measured[]> {
  const out: Measured[] = [];
  const deep = await jobAt(db, Math.floor(jobs * 0.9));
  const mid = await jobAt(db, Math.floor(jobs * 0.5));
  const deepCursor = encodeCursor({ at: deep.tracked_at_text, id: deep.id });
  const fragment = mid.batch_id.slice(-10, -2);
  const [endpoint] = await db.query<{ id: string }>(`SELECT ${seededUuid("'endpoint' || 3")} AS id`);

  // Reads behind the API and the dashboard.
  out.push(await measure("API list, unfiltered", "API", db, (d) => listJobs(d, { limit: 50 })));
  out.push(await measure("API list, status=cancelled + deep cursor", "API", db, (d) => listJobs(d, { status: "cancelled", limit: 50, cursor: deepCursor })));
  out.push(await measure("API list, status=validating (rare) + deep cursor", "API", db, (d) => listJobs(d, { status: "validating", limit: 50, cursor: deepCursor })));
  out.push(await measure("API list, provider=xai + status=expired", "API", db, (d) => listJobs(d, { provider: "xai", status: "expired", limit: 50 })));
  out.push(await measure("API detail (no kind)", "API", db, (d) => getJobDetail(d, deep.provider, deep.batch_id)));
  out.push(await measure("API detail (with kind)", "API", db, (d) => getJobDetail(d, deep.provider, deep.batch_id, deep.kind)));
  out.push(await measure("/batches, no filter", "dashboard", db, (d) => loadBatchList(d, {})));
  out.push(await measure("/batches, status=failed", "dashboard", db, (d) => loadBatchList(d, { status: "failed" })));
  out.push(await measure("/batches, provider=gemini + deep cursor", "dashboard", db, (d) => loadBatchList(d, { provider: "gemini", cursor: deepCursor })));
  out.push(await measure("/batches, status=cancelled + provider=xai", "dashboard", db, (d) => loadBatchList(d, { status: "cancelled", provider: "xai" })));
  out.push(await measure("/batches search, id fragment", "dashboard", db, (d) => loadBatchList(d, { q: fragment })));
  out.push(await measure("/batches search, exact id", "dashboard", db, (d) => loadBatchList(d, { q: deep.batch_id })));
  out.push(await measure("/batches/… page", "dashboard", db, (d) => loadBatchPage(d, deep.provider, deep.batch_id)));
  out.push(await measure("/deliveries (failed first, recent)", "dashboard", db, (d) => loadDeliveriesOverview(d)));
  out.push(await measure("recover preview since 24 h", "dashboard", db, (d) => previewRecovery(d, new Date(nowDate().getTime() - 86_400_000))));
  out.push(await measure("endpoint deliveries page", "API", db, (d) => listEndpointDeliveries(d, endpoint!.id, {})));
  out.push(await measure("native-signals check, live (openai)", "poll", db, (d) => nativeSignalsLive(d, getProvider("openai"), nowDate().getTime())));
  out.push(await measure("native-signals check, not live (gemini)", "poll", db, (d) => nativeSignalsLive(d, getProvider("gemini"), nowDate().getTime())));
  out.push(await measure("engine health (every dashboard page)", "dashboard", db, (d) => loadEngineHealth(d, nowDate().getTime())));
  out.push(await measure("/endpoints page", "dashboard", db, (d) => listEndpoints(d)));
  out.push(await measure("/endpoints/… page", "dashboard", db, (d) => loadEndpointPage(d, endpoint!.id)));

  // What the API and the watch write, one call each run (run -1 is the warm-up).
  const simulatedId = (i: number) => `sim_2h_completed_${SIMULATED_TOTAL_BASE + i + 1}`;
  out.push(await measure("track a new batch (POST /api/batches)", "API", db, (d, i) =>
    trackBatch(d, { provider: "simulated", batchId: simulatedId(i), endpoint: "endpoint-3" }, noSend),
  ));
  if (deep.provider !== "openai") throw new Error(`the seeded job at 90 % is ${deep.provider}, expected openai`);
  const added: string[] = [];
  out.push(await measure("track a tracked batch for another endpoint", "API", db, async (d, i) => {
    const tracked = await trackBatch(d, { provider: deep.provider, kind: deep.kind, batchId: deep.batch_id, endpoint: `endpoint-${(i + 2) % SEED_ENDPOINTS + 1}` }, noSend);
    added.push(tracked.subscription.id);
  }));
  out.push(await measure("untrack a subscription (DELETE /api/subscriptions/…)", "API", db, (d, i) => untrackSubscription(d, added[i + 1]!)));
  const webhooks = signedOpenAIEvents(process.env.OPENAI_WEBHOOK_SECRET!);
  out.push(await measure("OpenAI webhook, verified and stored", "API", db, (d) => {
    const spec = webhooks();
    return receiveOpenAIWebhook(new Request(`http://bench.local${spec.path}`, { method: spec.method, headers: spec.headers, body: spec.body }), d, noSend);
  }));
  const watches: { jobId: string; generation: number }[] = [];
  for (let i = -1; i < RUNS; i++) {
    const [job] = await db.query<JobRow>("SELECT * FROM jobs WHERE provider = 'simulated' AND batch_id = $1", [simulatedId(i)]);
    await db.transaction((tx) => claimWatch(tx, job!, nowDate().getTime()));
    const [claimed] = await db.query<{ watch_generation: number }>("SELECT watch_generation FROM jobs WHERE id = $1", [job!.id]);
    watches.push({ jobId: job!.id, generation: claimed!.watch_generation });
  }
  out.push(await measure("a poll (simulated provider: observation, timeline, next poll)", "poll", db, (d, i) => pollOnce(d, watches[i + 1]!, noSend)));

  // The reconciler's pass, then what writes.
  out.push(await measure("reconciler: revive lost watchers", "reconciler", db, (d) => reviveLostWatchers(d, noSend)));
  out.push(await measure("reconciler: deliver to late subscribers", "reconciler", db, (d) => deliverToLateSubscribers(d, noSend), {
    note: "the warm-up run delivers to the seeded late subscribers; the timed runs find none left",
  }));
  out.push(await measure("reconciler: stale outbox", "reconciler", db, (d) => flushStaleOutbox(d, new Date(nowDate().getTime() - 120_000), noSend)));
  const running = await db.query<{ provider: ProviderName; kind: JobKind; batch_id: string; id: string }>(
    `SELECT id, provider, kind, batch_id FROM jobs WHERE settled_at IS NULL ORDER BY tracked_at LIMIT ${RUNS + 1}`,
  );
  out.push(await measure("settle a job (deliveries + outbox)", "settlement", db, (d, i) => {
    const job = running[i + 1];
    return job ? settleJob(d, job.id, { by: "poll", snapshot: terminalSnapshot(job) }, noSend) : Promise.resolve();
  }));
  out.push(await measure("recover since 24 h (up to 500 re-sent)", "dashboard", db, (d) => recoverFailedDeliveries(d, new Date(nowDate().getTime() - 86_400_000), noSend)));

  // Retention last: a daily prune (one day past the period), then a catch-up after a missed week.
  out.push(await measure("retention prune, one day", "retention", db, (d) => deleteExpiredHistory(d, { olderThanDays: SEED_DAYS - 1 }), { runs: 1, warmUp: false }));
  out.push(await measure("retention prune, a missed week", "retention", db, (d) => deleteExpiredHistory(d, { olderThanDays: 30 }), { runs: 1, warmUp: false }));
  return out;
}

function label(jobs: number) {
  return jobs >= 1_000_000 ? `${jobs / 1_000_000}M` : `${jobs / 1000}k`;
}

export async function runScale(options: ScaleOptions): Promise<SectionResult> {
  const started = performance.now();
  process.env.OPENAI_WEBHOOK_SECRET ??= "whsec_c2NhbGUtYmVuY2gtb3BlbmFp";
  process.env.GEMINI_WEBHOOK_SECRET ??= "whsec_c2NhbGUtYmVuY2gtZ2VtaW5p";
  // The watch is measured on the simulated provider: a poll without a network call.
  process.env.BATCHWATCH_SIMULATED_PROVIDER ??= "1";
  // Tracking checks that the provider is configured; it never calls it.
  process.env.OPENAI_API_KEY ??= "sk-scale-bench-never-called";
  const reports: SizeReport[] = [];
  for (const jobs of options.sizes) reports.push(await runSize(jobs, options));
  const largest = reports.at(-1)!;
  const metrics: Metric[] = [];
  for (const op of largest.operations) {
    const cells = reports.map((r) => {
      const m = r.operations.find((o) => o.name === op.name)!;
      return `${m.median}`;
    });
    const goal = op.group === "retention" ? STATEMENT_GOAL_MS : op.group === "reconciler" ? undefined : QUERY_GOAL_MS;
    const value = op.group === "retention" ? op.longestStatement : op.median;
    metrics.push({
      section: SECTION,
      name: `${op.name}${op.group === "retention" ? " (longest statement)" : ""} @ ${reports.map((r) => label(r.jobs)).join(" | ")}`,
      value: op.group === "retention" ? `${reports.map((r) => r.operations.find((o) => o.name === op.name)!.longestStatement).join(" | ")} ms` : `${cells.join(" | ")} ms`,
      ...(goal !== undefined && largest.jobs >= SCALE_1M ? { target: `≤ ${goal} ms at 1M`, met: value <= goal } : {}),
    });
  }
  const pass = (r: SizeReport) => round(r.operations.filter((o) => o.group === "reconciler").reduce((sum, o) => sum + o.median, 0), 1);
  metrics.push({
    section: SECTION,
    name: `reconciler pass in all @ ${reports.map((r) => label(r.jobs)).join(" | ")}`,
    value: `${reports.map(pass).join(" | ")} ms`,
    ...(largest.jobs >= SCALE_1M ? { target: `≤ ${RECONCILER_GOAL_MS} ms at 1M`, met: pass(largest) <= RECONCILER_GOAL_MS } : {}),
  });
  for (const r of reports) {
    if (r.upgrade) {
      metrics.push({
        section: SECTION,
        name: `upgrade at ${label(r.jobs)}: migrations ${r.upgrade.applied.join(", ")} | writes meanwhile | slowest write`,
        value: `${r.upgrade.elapsedMs} ms | ${r.upgrade.writes} | ${r.upgrade.slowestWriteMs} ms`,
      });
    }
  }
  return {
    section: SECTION,
    metrics,
    details: { reports, timelinePerJob: options.timelinePerJob } as unknown as Record<string, unknown>,
    notes: reports.map(
      (r) =>
        `${label(r.jobs)}: ${JSON.stringify(r.counts)} seeded in ${(r.seedMs / 1000).toFixed(0)} s, ${r.databaseSize}, load average after ${r.loadAverage.join(" ")}`,
    ),
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** The growth table: each operation's median (min–max) per size, and the growth factor between sizes. */
export function formatScale(result: SectionResult): string {
  const { reports } = result.details as unknown as { reports: SizeReport[] };
  const header = ["operation", ...reports.map((r) => label(r.jobs)), "growth"];
  const rows = reports[0]!.operations.map((op) => {
    const per = reports.map((r) => r.operations.find((o) => o.name === op.name)!);
    const cell = (m: Measured) =>
      m.group === "retention" ? `${m.median} (longest stmt ${m.longestStatement}, ${m.statements} stmts)` : `${m.median} (${m.min}–${m.max})`;
    const growth = per.length > 1 ? `×${round(per.at(-1)!.median / Math.max(per[0]!.median, 0.01), 1)}` : "";
    return [`${op.name}`, ...per.map(cell), growth];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [`scale: median (min–max) of ${RUNS} runs after one warm-up, ms; endpoints ${SEED_ENDPOINTS}, ${SEED_DAYS} days of history`, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
