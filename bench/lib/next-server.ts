import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Child, freePort, ROOT, sleep, spawnChild } from "./processes";
import { log } from "./stats";

/**
 * `next start` (the production build) as a child process for the HTTP benchmarks. The build must
 * exist (`npx next build`); {@link ensureBuild} builds it when `.next/BUILD_ID` is missing.
 */

const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");
const BUILD_ID = path.join(ROOT, ".next", "BUILD_ID");

export interface BuildInfo {
  buildId: string;
  builtAt: string;
  /** True when this run had to build it; then buildMs says how long that took. */
  builtNow: boolean;
  buildMs?: number;
}

export function readBuild(): BuildInfo | null {
  if (!existsSync(BUILD_ID)) return null;
  return {
    buildId: readFileSync(BUILD_ID, "utf8").trim(),
    builtAt: statSync(BUILD_ID).mtime.toISOString(),
    builtNow: false,
  };
}

/** Returns the existing production build, or runs `next build` (minutes) when allowed. */
export async function ensureBuild(allowBuild: boolean): Promise<BuildInfo> {
  const existing = readBuild();
  if (existing) return existing;
  if (!allowBuild) {
    throw new Error("no production build (.next/BUILD_ID is missing): run `npx next build` first (or drop --no-build)");
  }
  log("no production build (.next/BUILD_ID missing): running `next build` first (takes minutes) …");
  const started = performance.now();
  const build = spawnChild("next build", process.execPath, [NEXT_BIN, "build"], {
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    echo: true,
  });
  const code = await Promise.race([build.exited, sleep(15 * 60_000).then(() => "timeout" as const)]);
  await build.stop();
  const built = readBuild();
  if (code !== 0 || !built) {
    throw new Error(
      `\`next build\` ${code === "timeout" ? "timed out" : `failed (exit ${code})`}; the ingest and tracking benchmarks need it:\n${build.tail()}`,
    );
  }
  return { ...built, builtNow: true, buildMs: Math.round(performance.now() - started) };
}

export interface NextServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/** Starts `next start` on a free loopback port with `env` added and waits until it answers. */
export async function startNext(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<NextServer> {
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1", PORT: String(port) };
  delete childEnv.VERCEL;
  delete childEnv.NODE_OPTIONS; // tsx's loader is not for the production server
  const child = spawnChild("next start", process.execPath, [NEXT_BIN, "start", "-H", "127.0.0.1", "-p", String(port)], {
    env: childEnv,
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.process.exitCode !== null) throw new Error(`next start exited (${child.process.exitCode}):\n${child.tail()}`);
      try {
        const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
        await response.arrayBuffer();
        break; // any answer: the server is up (health may be 503 for reasons that do not matter here)
      } catch {
        if (Date.now() > deadline) throw new Error(`next start did not answer within ${timeoutMs} ms:\n${child.tail()}`);
        await sleep(200);
      }
    }
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { url, child, stop: () => child.stop() };
}
