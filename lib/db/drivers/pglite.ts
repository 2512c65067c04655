import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { Database, Queryable } from "../types";

/**
 * Embedded Postgres (WASM) persisted under a local folder: the zero-setup default. It serves one
 * process only, so it is for a first run and development, never for several instances.
 */
export async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(inMemory ? undefined : dataDir);
  const asQueryable = (target: Pick<PGlite, "query" | "exec">): Queryable => ({
    exec: async (script) => void (await target.exec(script)),
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await target.query<Row>(sql, [...params]);
      return result.rows;
    },
  });
  return {
    driver: "pglite",
    ...asQueryable(db),
    transaction: (work) => db.transaction((tx) => work(asQueryable(tx))),
    // One connection is all PGlite has.
    session: (work) => work(asQueryable(db)),
    close: () => db.close(),
  };
}
