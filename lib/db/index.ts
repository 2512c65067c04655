import { readConfig, type Config } from "../config";
import { migrate } from "./migrations";
import type { Database } from "./types";

export type { Database, Queryable } from "./types";

/** Opens the database the configuration names (without migrating it). */
export async function openDatabase(database: Config["database"] = readConfig().database): Promise<Database> {
  switch (database.driver) {
    case "pglite": {
      const { openPglite } = await import("./drivers/pglite");
      return openPglite(database.dataDir);
    }
    case "pg": {
      const { openNodePostgres } = await import("./drivers/pg");
      return openNodePostgres(database.url);
    }
    case "neon": {
      const { openNeon } = await import("./drivers/neon");
      return openNeon(database.url);
    }
  }
}

// One database per process, kept on globalThis so Next's dev reloads and separately bundled
// routes share it (PGlite allows only one opener of its folder).
const shared = globalThis as typeof globalThis & { __batchwatchDb?: Promise<Database> };

/** The process-wide, migrated database. */
export function getDb(): Promise<Database> {
  shared.__batchwatchDb ??= (async () => {
    const config = readConfig();
    if (config.database.driver === "pglite") {
      console.warn(
        `[batchwatch] DATABASE_URL is not set: using embedded PGlite in ${config.database.dataDir}. ` +
          "It serves a single instance; set DATABASE_URL for anything shared.",
      );
    }
    const db = await openDatabase(config.database);
    await migrate(db);
    return db;
  })().catch((error) => {
    shared.__batchwatchDb = undefined;
    throw error;
  });
  return shared.__batchwatchDb;
}

/** Replaces the process-wide database (tests run the app against a database they created). */
export function setDb(db: Database | undefined): void {
  shared.__batchwatchDb = db ? Promise.resolve(db) : undefined;
}
