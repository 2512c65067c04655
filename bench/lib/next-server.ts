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
  /** How it was built, when not by a plain `next build`. */
  note?: string;
}

export function readBuild(): BuildInfo | null {
  if (!existsSync(BUILD_ID)) return null;
  return {
    buildId: readFileSync(BUILD_ID, "utf8").trim(),
    builtAt: statSync(BUILD_ID).mtime.toISOString(),
    builtNow: false,
  };
}

async function runBuild(args: string[]): Promise<{ code: number | null | "timeout"; tail: string }> {
  const build = spawnChild(`next ${args.join(" ")}`, process.execPath, [NEXT_BIN, ...args], {
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
    echo: true,
  });
  const code = await Promise.race([build.exited, sleep(10 * 60_000).then(() => "timeout" as const)]);
  await build.stop();
  return { code, tail: build.tail() };
}

/**
 * Returns the existing production build, or runs `next build` (minutes) when allowed. If that
 * build fails only in its type check (work in progress elsewhere in the tree), it builds again
 * without the type check (`--experimental-build-mode compile`, then `generate`) and says so:
 * the server is the same, and `npm run typecheck` is where types are checked.
 */
export async function ensureBuild(allowBuild: boolean): Promise<BuildInfo> {
  const existing = readBuild();
  if (existing) return existing;
  if (!allowBuild) {
    throw new Error("no production build (.next/BUILD_ID is missing): run `npx next build` first (or drop --no-build)");
  }
  log("no production build (.next/BUILD_ID missing): running `next build` first (takes minutes) …");
  const started = performance.now();
  let result = await runBuild(["build"]);
  let note: string | undefined;
  if (result.code !== 0 && /Failed to type check|Type error/.test(result.tail)) {
    note = "`next build` failed in its type check (outside the benchmarks); built with --experimental-build-mode compile + generate";
    log(note);
    result = await runBuild(["build", "--experimental-build-mode", "compile"]);
    if (result.code === 0) result = await runBuild(["build", "--experimental-build-mode", "generate"]);
  }
  const built = readBuild();
  if (result.code !== 0 || !built) {
    throw new Error(
      `\`next build\` ${result.code === "timeout" ? "timed out" : `failed (exit ${result.code})`}; the ingest and tracking ` +
        `benchmarks need a production build (run \`npx next build\`):\n${result.tail}`,
    );
  }
  return { ...built, builtNow: true, buildMs: Math.round(performance.now() - started), ...(note ? { note } : {}) };
}

export interface NextServer {
  url: string;
  child: Child;
  stop(): Promise<void>;
}

/** Starts `next start` on a free loopback port with `env` added and waits until it answers. */
export async function startNext(env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<NextServer> {
  const port = await freePort();
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: "1", PORT: String(port) };
  delete childEnv.VERCEL;
  delete childEnv.NODE_OPTIONS; // tsx's loader is not for the production server
  // BENCH_CPU_PROF_DIR=<dir>: each `next start` writes a V8 CPU profile there when it stops (open it
  // in Chrome DevTools or speedscope) — where a route's time goes.
  const profile = process.env.BENCH_CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF_DIR)}`] : [];
  const child = spawnChild("next start", process.execPath, [...profile, NEXT_BIN, "start", "-H", "127.0.0.1", "-p", String(port)], {
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
