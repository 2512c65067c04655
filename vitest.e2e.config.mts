import { defineConfig } from "vitest/config";
import node from "./vitest.config.mts";

/** `npm run test:e2e`: the dashboard in Chromium against a production build (`next build` first). */
export default defineConfig({
  ...node,
  test: { ...node.test, include: ["test/e2e/**/*.test.ts"], exclude: ["**/node_modules/**"] },
});
