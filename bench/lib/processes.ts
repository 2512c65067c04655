import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Child processes for the benchmarks (servers, the results streamer, `next start`): each runs in
 * its own process group, is remembered, and is killed — by its own id — when it is stopped, when
 * the benchmark ends, or when the benchmark process exits or is interrupted.
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The last lines the child printed (stdout and stderr), for error messages. */
  tail(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Child>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the group this child leads (spawned detached)
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", () => {
    for (const child of running) killGroup(child.pid, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`[bench] ${signal}: stopping children and cleaning up\n`);
      for (const child of running) killGroup(child.pid, "SIGKILL");
      const done = Promise.allSettled(cleanups.map((cleanup) => cleanup()));
      void Promise.race([done, sleep(5_000)]).finally(() => process.exit(130));
    });
  }
}

const cleanups: (() => Promise<unknown>)[] = [];

/** Runs `cleanup` (e.g. dropping the run's database) when the benchmark is interrupted. */
export function onInterrupt(cleanup: () => Promise<unknown>): void {
  installExitHooks();
  cleanups.push(cleanup);
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Echo the child's output to stderr as it comes (for long builds). */
  echo?: boolean;
}

export function spawnChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  installExitHooks();
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: (options.env ?? process.env) as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = proc.pid;
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    if (options.echo) process.stderr.write(text);
    for (const line of text.split("\n")) if (line.trim()) lines.push(line);
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code) => resolve(code));
    proc.once("error", () => resolve(-1));
  });
  const child: Child = {
    name,
    process: proc,
    pid,
    tail: () => lines.join("\n"),
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        killGroup(pid, "SIGTERM");
        const killed = await Promise.race([exited.then(() => true), sleep(3_000).then(() => false)]);
        if (!killed) {
          killGroup(pid, "SIGKILL");
          await Promise.race([exited, sleep(2_000)]);
        }
      } else {
        killGroup(pid, "SIGKILL"); // the leader is gone; make sure nothing it started stays
      }
      running.delete(child);
    },
  };
  running.add(child);
  return child;
}

/** Stops every child still running (the benchmark's finally). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

/**
 * Starts a TypeScript helper under tsx (with the react-server condition, as `npm run bench`) and
 * waits for its first `READY <json>` line, which it returns.
 */
export async function startTsChild<Info = Record<string, unknown>>(
  name: string,
  script: string,
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<{ child: Child; info: Info }> {
  const child = spawnChild(
    name,
    process.execPath,
    ["--conditions=react-server", ...(options.nodeArgs ?? []), "--import", "tsx", path.resolve(ROOT, script)],
    { env: { ...process.env, ...env } },
  );
  try {
    const info = await waitForLine(child, /^READY (.*)$/, options.timeoutMs ?? 30_000);
    return { child, info: JSON.parse(info[1]!) as Info };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Waits until the child prints a line matching `pattern` (on stdout). */
export function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let newline: number;
      while ((newline = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        const match = pattern.exec(line);
        if (match) {
          finish();
          resolve(match);
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${child.name} did not become ready within ${timeoutMs} ms:\n${child.tail()}`));
    }, timeoutMs);
    const onExit = () => {
      finish();
      reject(new Error(`${child.name} exited before it was ready:\n${child.tail()}`));
    };
    function finish() {
      clearTimeout(timer);
      child.process.stdout!.off("data", onData);
      child.process.off("exit", onExit);
    }
    child.process.stdout!.on("data", onData);
    child.process.once("exit", onExit);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** CPU time (user + system, ms) a process has used so far, from /proc; null where there is no /proc. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command; clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * Waits until a server has finished what a load run left for it (the sends a request leaves for
 * after its answer): until it uses under `busyShare` of a core over `windowMs`, at most `maxMs`.
 * Returns how long it waited.
 */
export async function waitIdle(pid: number, { busyShare = 0.05, windowMs = 300, maxMs = 20_000 } = {}): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = cpuMs(pid);
    await sleep(windowMs);
    const after = cpuMs(pid);
    if (before === null || after === null) return Math.round(performance.now() - started);
    if ((after - before) / windowMs < busyShare || performance.now() - started > maxMs) {
      return Math.round(performance.now() - started);
    }
  }
}
