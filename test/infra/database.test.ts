import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { currentMigrationVersion, LATEST_MIGRATION_VERSION, migrate, MIGRATIONS } from "@/lib/db/migrations";

// Versions are reserved per change, so a number may be missing until its change lands.
const VERSIONS = MIGRATIONS.map((migration) => migration.version);
import { createTestDatabase, TEST_DRIVERS, type TestDatabase } from "../helpers/db";

describe.each(TEST_DRIVERS)("database on %s", (driver) => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase(driver, { migrated: false });
  });
  afterAll(async () => {
    await testDb.drop();
  });

  test("first migration run applies every migration and reports the latest version", async () => {
    const result = await migrate(testDb.db);
    expect(result.applied).toEqual(VERSIONS);
    expect(await currentMigrationVersion(testDb.db)).toBe(LATEST_MIGRATION_VERSION);
  });

  test("a second migration run is a no-op", async () => {
    const result = await migrate(testDb.db);
    expect(result.applied).toEqual([]);
    const rows = await testDb.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
    expect(rows[0]!.n).toBe(VERSIONS.length);
  });

  test("every foreign key has an index its cascade can use", async () => {
    await migrate(testDb.db);
    // A cascade looks rows up by the key column alone: an index must lead with it and be partial
    // on nothing but that column being set (a partial index on another column is no use to it).
    const unindexed = await testDb.db.query<{ key: string }>(
      `SELECT c.conrelid::regclass::text || '.' || a.attname AS key
       FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
       WHERE c.contype = 'f' AND NOT EXISTS (
         SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
           AND (i.indpred IS NULL OR pg_get_expr(i.indpred, i.indrelid) = '(' || a.attname || ' IS NOT NULL)'))
       ORDER BY 1`,
    );
    expect(unindexed).toEqual([]);
  });

  test("parameterised queries bind values instead of splicing them", async () => {
    const hostile = "x'); DROP TABLE jobs; --";
    const rows = await testDb.db.query<{ value: string }>("SELECT $1::text AS value", [hostile]);
    expect(rows[0]!.value).toBe(hostile);
    expect(await testDb.db.query("SELECT 1 FROM jobs LIMIT 1")).toEqual([]);
  });

  test("a transaction that throws leaves nothing written", async () => {
    await expect(
      testDb.db.transaction(async (tx) => {
        await tx.query("INSERT INTO jobs (provider, batch_id) VALUES ('openai', 'batch_rollback')");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await testDb.db.query("SELECT id FROM jobs WHERE batch_id = 'batch_rollback'")).toEqual([]);
  });

  test("a transaction that resolves commits every statement", async () => {
    const id = await testDb.db.transaction(async (tx) => {
      const [job] = await tx.query<{ id: string }>(
        "INSERT INTO jobs (provider, batch_id) VALUES ('openai', 'batch_commit') RETURNING id",
      );
      await tx.query("INSERT INTO job_events (job_id, type) VALUES ($1, 'tracked')", [job!.id]);
      return job!.id;
    });
    const events = await testDb.db.query("SELECT type FROM job_events WHERE job_id = $1", [id]);
    expect(events).toEqual([{ type: "tracked" }]);
  });

  test("jsonb and timestamps come back as values, not strings", async () => {
    const [row] = await testDb.db.query<{ counts: unknown; at: unknown }>(
      "SELECT $1::jsonb AS counts, now() AS at",
      [JSON.stringify({ total: 3 })],
    );
    expect(row!.counts).toEqual({ total: 3 });
    expect(row!.at).toBeInstanceOf(Date);
  });
});

describe.runIf(TEST_DRIVERS.includes("pg"))("migrations on real Postgres from several processes", () => {
  test("two instances migrating one database at once apply each migration exactly once", async () => {
    const testDb = await createTestDatabase("pg", { migrated: false });
    try {
      const instances = await Promise.all([testDb.open(), testDb.open(), testDb.open()]);
      const results = await Promise.all(instances.map((db) => migrate(db)));
      const applied = results.flatMap((result) => result.applied);
      expect(applied.sort((a, b) => a - b)).toEqual(VERSIONS);
      const rows = await testDb.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
      expect(rows[0]!.n).toBe(VERSIONS.length);
    } finally {
      await testDb.drop();
    }
  });
});

describe.runIf(TEST_DRIVERS.includes("pg"))("npm run db:migrate", () => {
  test("two db:migrate processes started together leave one set of migrations", async () => {
    const { spawn } = await import("node:child_process");
    const testDb = await createTestDatabase("pg", { migrated: false });
    const runMigrate = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn("npx", ["tsx", "--conditions=react-server", "scripts/migrate.ts"], {
          env: { ...process.env, DATABASE_URL: testDb.url, DATABASE_DRIVER: "pg" },
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(output))));
      });
    try {
      const outputs = await Promise.all([runMigrate(), runMigrate()]);
      expect(outputs.filter((output) => output.includes("applied migrations"))).toHaveLength(1);
      expect(outputs.filter((output) => output.includes("up to date"))).toHaveLength(1);
      const rows = await testDb.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
      expect(rows[0]!.n).toBe(VERSIONS.length);
    } finally {
      await testDb.drop();
    }
  });
});

describe.runIf(TEST_DRIVERS.includes("pg"))("migrations that build indexes concurrently", () => {
  const firstConcurrent = MIGRATIONS.find((migration) => migration.concurrently)!;

  test("writes go through while a concurrent index build waits, and the index ends valid", async () => {
    const testDb = await createTestDatabase("pg", { migrated: false });
    const [reader, writer] = await Promise.all([testDb.open(), testDb.open()]);
    try {
      await migrate(testDb.db, { through: firstConcurrent.version - 1 });
      // An older snapshot that CREATE INDEX CONCURRENTLY must wait for, held until released.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holding = reader.transaction(async (tx) => {
        await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
        await tx.query("SELECT 1");
        await released;
      });
      let migrated = false;
      const migrating = migrate(testDb.db).then((result) => {
        migrated = true;
        return result;
      });
      await waitFor(async () => {
        const rows = await writer.query(
          "SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event = 'virtualxid'",
        );
        return rows.length > 0;
      });
      await writer.transaction(async (tx) => {
        await tx.query("SET LOCAL lock_timeout = '5s'");
        const [job] = await tx.query<{ id: string }>("INSERT INTO jobs (provider, batch_id) VALUES ('openai', 'batch_during_upgrade') RETURNING id");
        await tx.query(
          "INSERT INTO subscriptions (job_id, destination_key, webhook_url) VALUES ($1, 'url:https://example.com/hook', 'https://example.com/hook')",
          [job!.id],
        );
      });
      expect(migrated).toBe(false);
      release();
      await holding;
      expect((await migrating).applied).toContain(firstConcurrent.version);
      const invalid = await writer.query("SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid");
      expect(invalid).toEqual([]);
    } finally {
      await testDb.drop();
    }
  });

  test("a build that a crash left invalid is dropped and built again", async () => {
    const testDb = await createTestDatabase("pg", { migrated: false });
    try {
      await migrate(testDb.db, { through: firstConcurrent.version - 1 });
      // A unique index over duplicates fails half-way and stays behind INVALID, as a crash would leave it.
      await testDb.db.query("INSERT INTO jobs (provider, kind, batch_id, status) VALUES ('openai', 'batch', 'a', 'completed'), ('openai', 'batch', 'b', 'completed')");
      await expect(testDb.db.query("CREATE UNIQUE INDEX CONCURRENTLY jobs_status_tracked_at ON jobs (status)")).rejects.toThrow();
      expect(await testDb.db.query("SELECT 1 FROM pg_index WHERE indexrelid = 'jobs_status_tracked_at'::regclass AND NOT indisvalid")).toHaveLength(1);
      await migrate(testDb.db);
      const [index] = await testDb.db.query<{ valid: boolean; definition: string }>(
        "SELECT indisvalid AS valid, pg_get_indexdef(indexrelid) AS definition FROM pg_index WHERE indexrelid = 'jobs_status_tracked_at'::regclass",
      );
      expect(index).toEqual({ valid: true, definition: expect.stringContaining("(status, tracked_at DESC, id DESC)") });
    } finally {
      await testDb.drop();
    }
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the condition never held");
}
