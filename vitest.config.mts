import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // `server-only` throws unless resolved under the react-server condition, as Next does.
    conditions: ["react-server"],
    alias: { "@": fileURLToPath(new URL(".", import.meta.url)) },
  },
  ssr: { resolve: { conditions: ["react-server"], externalConditions: ["react-server"] } },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    setupFiles: ["test/setup/env.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Store tests share one Postgres database; files run in parallel on 2 cores.
    pool: "forks",
    maxWorkers: 2,
  },
});
