import { neonConfig, Pool } from "@neondatabase/serverless";
import ws from "ws";
import type { Database } from "../types";
import { databaseFromPool } from "./pool";

/**
 * Neon's serverless driver: Postgres over a WebSocket, which works from Vercel functions.
 * Node 20 has no global WebSocket, so the `ws` package supplies one.
 */
export function openNeon(url: string, options: { max?: number } = {}): Database {
  neonConfig.webSocketConstructor ??= ws as unknown as typeof WebSocket;
  const pool = new Pool({ connectionString: url, max: options.max ?? 10 });
  pool.on("error", (error: Error) => console.error("[batchwatch] neon pool error:", error.message));
  return databaseFromPool(pool as never, "neon");
}
