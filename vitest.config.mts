import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * `npm test`: everything that needs only Node (PGlite always; real Postgres through node-postgres
 * and the Neon driver when TEST_DATABASE_URL is set). The browser suite (`npm run test:e2e`,
 * vitest.e2e.config.mts) and the engine suite (`npm run test:engine`) have configs of their own.
 */
export default defineConfig({
  resolve: {
    // `server-only` throws unless resolved under the react-server condition, as Next does.
    conditions: ["react-server"],
    alias: { "@": fileURLToPath(new URL(".", import.meta.url)) },
  },
  ssr: { resolve: { conditions: ["react-server"], externalConditions: ["react-server"] } },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/engine/**", "**/node_modules/**"],
    environment: "node",
    setupFiles: ["test/setup/env.ts", "test/setup/console.ts"],
    // Generous: the machine running the suite is shared, and a durable flow drives hundreds of runs.
    testTimeout: 60_000,
    // Creating a PGlite database and migrating it takes tens of seconds on a busy shared machine.
    hookTimeout: 120_000,
    // Durable tests take seconds by design; only a test nearing its timeout is worth a line.
    slowTestThreshold: 15_000,
    // Store tests share one Postgres database; files run in parallel on 2 cores.
    pool: "forks",
    maxWorkers: 2,
  },
});
