import type { Database, Queryable } from "../types";

/** The part of node-postgres' Pool that the Neon driver's Pool shares with it. */
interface PgLikePool {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgLikeClient>;
  end(): Promise<void>;
}

interface PgLikeClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(error?: Error | boolean): void;
}

function onClient(client: PgLikeClient): Queryable {
  return {
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await client.query(sql, [...params]);
      return result.rows as Row[];
    },
    // Without parameters node-postgres uses the simple protocol, which accepts several statements.
    exec: async (script) => void (await client.query(script)),
  };
}

/** node-postgres and Neon's serverless Pool have the same API, so one adapter serves both. */
export function databaseFromPool(pool: PgLikePool, driver: "pg" | "neon"): Database {
  return {
    driver,
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await pool.query(sql, [...params]);
      return result.rows as Row[];
    },
    exec: async (script) => void (await pool.query(script)),
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      const tx = onClient(client);
      try {
        await client.query("BEGIN");
        const value = await work(tx);
        await client.query("COMMIT");
        client.release();
        return value;
      } catch (error) {
        // A failed ROLLBACK means the connection is broken: destroy it rather than reuse it.
        await client.query("ROLLBACK").then(
          () => client.release(),
          () => client.release(true),
        );
        throw error;
      }
    },
    async session<T>(work: (connection: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        const value = await work(onClient(client));
        client.release();
        return value;
      } catch (error) {
        // Session state (a lock, an open transaction) may be left behind: never reuse the connection.
        client.release(true);
        throw error;
      }
    },
    close: () => pool.end(),
  };
}
