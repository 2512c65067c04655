import pg from "pg";
import type { Database } from "../types";
import { databaseFromPool } from "./pool";

export function openNodePostgres(url: string, options: { max?: number } = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // An idle client that loses its connection must not crash the process.
  pool.on("error", (error) => console.error("[batchwatch] postgres pool error:", error.message));
  return databaseFromPool(pool, "pg");
}
