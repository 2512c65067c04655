import { defineConfig } from "vitest/config";
import node from "./vitest.config.mts";

/**
 * `npm run test:engine`: the whole product on the real Inngest engine — `inngest dev`, then a
 * self-hosted `inngest start` with keys — driving the production build (`next build` first) on
 * real Postgres. Needs an `inngest` binary (INNGEST_CLI or PATH) and TEST_DATABASE_URL.
 */
export default defineConfig({
  ...node,
  test: {
    ...node.test,
    include: ["test/engine/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    globalSetup: ["test/engine/support/preflight.ts"],
    // Scenarios wait on real sleeps and the engine's retry backoff (15 s, 30 s, …): minutes, not seconds.
    testTimeout: 8 * 60_000,
    hookTimeout: 3 * 60_000,
    slowTestThreshold: 8 * 60_000,
    // One file per engine and stack (the crash scenario has its own); each mostly waits, so all run at once.
    maxWorkers: 4,
  },
});
