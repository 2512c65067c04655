import { findEngine } from "./engine";

/**
 * Fails the engine suite in one line, before anything is built or started, when what it needs is
 * missing: an `inngest` binary and a real Postgres. `npm run test:engine` runs it first (through
 * tsx) and vitest again as its global setup.
 */
export function checkPrerequisites(env: NodeJS.ProcessEnv = process.env): void {
  findEngine(env);
  if (!env.TEST_DATABASE_URL) {
    throw new Error("npm run test:engine needs a real Postgres: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).");
  }
}

export default function setup(): void {
  checkPrerequisites();
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  try {
    checkPrerequisites();
  } catch (error) {
    console.error(`FATAL: ${(error as Error).message}`);
    process.exit(1);
  }
}
