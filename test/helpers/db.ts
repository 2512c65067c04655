import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase } from "@/lib/db";
import { migrate } from "@/lib/db/migrations";
import type { Database } from "@/lib/db/types";
import { startNeonBridge } from "./neon-bridge";

export type TestDriver = "pglite" | "pg" | "neon";

/**
 * The drivers store tests run against: PGlite always; node-postgres and Neon's driver too when
 * TEST_DATABASE_URL points at a real Postgres (CI sets it; `.ci/run` fails if it is unreachable).
 */
export const TEST_DRIVERS: TestDriver[] = process.env.TEST_DATABASE_URL ? ["pglite", "pg", "neon"] : ["pglite"];
export const REAL_POSTGRES_URL = process.env.TEST_DATABASE_URL;

export interface TestDatabase {
  db: Database;
  /** A URL for a second connection to the same database (real Postgres only). */
  url?: string;
  open(): Promise<Database>;
  drop(): Promise<void>;
}

let bridge: Awaited<ReturnType<typeof startNeonBridge>> | undefined;

/** A fresh, empty database of the given driver (each call gets its own, so test files never collide). */
export async function createTestDatabase(driver: TestDriver, options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  if (driver === "pglite") {
    const db = await openDatabase({ driver: "pglite", dataDir: "memory://" });
    if (migrated) await migrate(db);
    return { db, open: async () => db, drop: () => db.close() };
  }
  if (!REAL_POSTGRES_URL) throw new Error("TEST_DATABASE_URL is not set");
  const name = `bw_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: REAL_POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(REAL_POSTGRES_URL, name);
  if (driver === "neon") bridge ??= await startNeonBridge();
  const opened: Database[] = [];
  const open = async () => {
    const db = await openDatabase({ driver, url });
    opened.push(db);
    return db;
  };
  const db = await open();
  if (migrated) await migrate(db);
  return {
    db,
    url,
    open,
    async drop() {
      await Promise.all(opened.map((each) => each.close().catch(() => undefined)));
      const cleanup = new pg.Client({ connectionString: REAL_POSTGRES_URL });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Empties every table (faster than a new database per test; the schema stays). */
export async function resetDatabase(db: Database): Promise<void> {
  await db.exec(
    "TRUNCATE jobs, job_events, endpoints, subscriptions, deliveries, delivery_attempts, inbound_events, outbox, job_groups RESTART IDENTITY CASCADE",
  );
}
