import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../../helpers/ports";
import { waitFor } from "./wait";

/** The version `npm run dev` runs through npx (scripts/dev.mjs); any `inngest` binary works. */
export const INNGEST_CLI_PACKAGE = "inngest-cli@1.45.1";

export type EngineMode = "dev" | "self-hosted";

/**
 * The Inngest engine to test against: `INNGEST_CLI` (a path to an `inngest` binary), else `inngest`
 * on PATH; otherwise one line saying what to install. The suite never skips.
 */
export function findEngine(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = env.INNGEST_CLI
    ? [env.INNGEST_CLI]
    : (env.PATH ?? "").split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, "inngest"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next one.
    }
  }
  throw new Error(
    env.INNGEST_CLI
      ? `npm run test:engine: INNGEST_CLI=${env.INNGEST_CLI} is not an executable file; point it at an \`inngest\` binary.`
      : `npm run test:engine needs the Inngest engine: put \`inngest\` on PATH (e.g. \`npx --yes ${INNGEST_CLI_PACKAGE} --help\` downloads it on a connected machine) or set INNGEST_CLI to an \`inngest\` binary.`,
  );
}

export interface SelfHostedStores {
  /** Its own throwaway Postgres database. */
  postgresUrl: string;
  /** A Redis database index nobody else uses. */
  redisUrl: string;
}

export interface Engine {
  mode: EngineMode;
  url: string;
  /** Self-hosted only: what the app authenticates with (`INNGEST_SIGNING_KEY`, `INNGEST_EVENT_KEY`). */
  signingKey?: string;
  eventKey?: string;
  log(): string;
  /** A query or mutation against the engine's GraphQL API (what its dashboard uses). */
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `inngest dev` (discovery off, the app's serve URL given) or `inngest start` (signing and
 * event keys, external Postgres and Redis) on free loopback ports, in a temporary working
 * directory with a clean environment, and waits until its API answers.
 */
export async function startEngine(options: {
  binary: string;
  mode: EngineMode;
  serveUrl: string;
  stores?: SelfHostedStores;
}): Promise<Engine> {
  const [port, gatewayPort, gatewayGrpcPort, executorGrpcPort, debugPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const common = [
    "--host", "127.0.0.1",
    "--port", String(port),
    "-u", options.serveUrl,
    "--connect-gateway-port", String(gatewayPort),
    "--connect-gateway-grpc-port", String(gatewayGrpcPort),
    "--connect-executor-grpc-port", String(executorGrpcPort),
  ];
  let signingKey: string | undefined;
  let eventKey: string | undefined;
  let args: string[];
  if (options.mode === "dev") {
    args = ["dev", "--no-discovery", "--debug-api-port", String(debugPort), ...common];
  } else {
    if (!options.stores) throw new Error("a self-hosted engine needs its Postgres and Redis");
    const hex = randomBytes(32).toString("hex");
    signingKey = `signkey-prod-${hex}`;
    eventKey = `evtkey${randomBytes(16).toString("hex")}`;
    args = [
      "start", ...common,
      "--signing-key", hex,
      "--event-key", eventKey,
      "--postgres-uri", options.stores.postgresUrl,
      // Its default pool (100 connections) would exhaust a shared Postgres's max_connections.
      "--postgres-max-open-conns", "10",
      "--postgres-max-idle-conns", "2",
      "--redis-uri", options.stores.redisUrl,
    ];
  }
  const cwd = mkdtempSync(path.join(tmpdir(), "batchwatch-engine-"));
  let output = "";
  const child: ChildProcess = spawn(options.binary, args, {
    cwd,
    env: { PATH: process.env.PATH, HOME: cwd, DO_NOT_TRACK: "1", NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const response = await fetch(`${url}/v0/gql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(signingKey ? { authorization: `Bearer ${signingKey}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`engine GraphQL answered ${response.status}: ${text.slice(0, 500)}`);
    const body = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(`engine GraphQL: ${body.errors.map((e) => e.message).join("; ")}`);
    return body.data as T;
  };

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(cwd, { recursive: true, force: true });
  };

  try {
    await waitFor(`the ${options.mode} engine to answer on ${url}`, 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`inngest ${args[0]} exited with ${child.exitCode}:\n${output.slice(-3000)}`);
      try {
        await gql("{ apps { id } }");
        return true;
      } catch (error) {
        if (error instanceof Error && /exited with/.test(error.message)) throw error;
        return false;
      }
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { mode: options.mode, url, signingKey, eventKey, log: () => output, gql, stop };
}
