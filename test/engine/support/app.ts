import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { waitFor } from "./wait";

const ROOT = path.resolve(__dirname, "../../..");
const BUILD_ID = path.join(ROOT, ".next", "BUILD_ID");
const NEXT_BIN = path.join(ROOT, "node_modules", "next", "dist", "bin", "next");

export interface App {
  url: string;
  /** `/api/inngest`, the URL the engine calls. */
  serveUrl: string;
  log(): string;
  /** Starts (or starts again) `next start` and waits for `/api/health`. */
  start(): Promise<void>;
  /** Kills the server at once, as a crash would (SIGKILL), and waits for it to be gone. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/** The production build served by `next start` on `port` with exactly `env` (plus PATH and HOME). */
export function appOn(port: number, env: Record<string, string>): App {
  if (!existsSync(BUILD_ID)) {
    throw new Error("The engine suite serves the production build and .next/BUILD_ID is missing: run it as `npm run test:engine` (next build first).");
  }
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = "";

  const kill = async (signal: NodeJS.Signals) => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill(signal);
    await exited;
  };

  return {
    url,
    serveUrl: `${url}/api/inngest`,
    log: () => output,
    async start() {
      const started = spawn(process.execPath, [NEXT_BIN, "start", "--port", String(port), "--hostname", "127.0.0.1"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", ...env } as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = started;
      started.stdout!.on("data", (chunk) => (output += chunk));
      started.stderr!.on("data", (chunk) => (output += chunk));
      await waitFor(`next start to answer ${url}/api/health`, 60_000, async () => {
        if (started.exitCode !== null) throw new Error(`next start exited with ${started.exitCode}:\n${output.slice(-3000)}`);
        try {
          return (await fetch(`${url}/api/health`)).ok;
        } catch {
          return false;
        }
      }, 250);
    },
    crash: () => kill("SIGKILL"),
    stop: () => kill("SIGTERM"),
  };
}
