import type { Database } from "@/lib/db/types";
import { createTestDatabase, type TestDatabase } from "../../helpers/db";
import { startFakeOpenAI } from "../../helpers/fake-openai";
import { freePort } from "../../helpers/ports";
import { appOn, type App } from "./app";
import { findEngine, startEngine, type Engine, type EngineMode } from "./engine";
import { claimRedisDatabase } from "./redis";
import { waitFor } from "./wait";

export const API_KEY = "engine-suite-api-key";
/** Signs deliveries to plain webhookUrl subscriptions (test/setup/env.ts sets it for the whole suite). */
export const WEBHOOK_SECRET = process.env.BATCH_WEBHOOK_SECRET!;
/** What the fake OpenAI signs its webhooks with, and the app verifies them with. */
export const OPENAI_WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 11).toString("base64")}`;
/** Small, so a watch continues in fresh runs and a failing delivery fails for good within minutes. */
export const POLLS_PER_RUN = 1;
export const DELIVERY_RETRIES = 2;

export type FakeOpenAI = Awaited<ReturnType<typeof startFakeOpenAI>>;

export interface Stack {
  mode: EngineMode;
  engine: Engine;
  app: App;
  /** The app's database, for assertions. */
  db: Database;
  openai: FakeOpenAI;
  /** A request to the app's HTTP API with the API key. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * One engine (`inngest dev`, or `inngest start` with keys on its own Postgres database and Redis
 * index) and the app's production build served by `next start` against a fresh Postgres database
 * and a fake OpenAI, registered with each other. Everything started is stopped by `stop()`.
 */
export async function startStack(mode: EngineMode): Promise<Stack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const binary = findEngine();
    const appDb: TestDatabase = await createTestDatabase("pg");
    cleanups.push(() => appDb.drop());
    const openai = await startFakeOpenAI();
    cleanups.push(() => openai.close());
    const port = await freePort();
    const serveUrl = `http://127.0.0.1:${port}/api/inngest`;

    let stores: { postgresUrl: string; redisUrl: string } | undefined;
    if (mode === "self-hosted") {
      const engineDb = await createTestDatabase("pg", { migrated: false });
      cleanups.push(() => engineDb.drop());
      const redis = await claimRedisDatabase();
      cleanups.push(() => redis.release());
      stores = { postgresUrl: engineDb.url!, redisUrl: redis.url };
    }
    const engine = await startEngine({ binary, mode, serveUrl, stores });
    cleanups.push(() => engine.stop());

    const inngestEnv: Record<string, string> =
      mode === "dev"
        ? { INNGEST_DEV: "1", INNGEST_BASE_URL: engine.url }
        : {
            INNGEST_SIGNING_KEY: engine.signingKey!,
            INNGEST_EVENT_KEY: engine.eventKey!,
            INNGEST_BASE_URL: engine.url,
            // A deployment names its own origin: an unsigned registration never takes it from the request.
            INNGEST_SERVE_ORIGIN: new URL(serveUrl).origin,
          };
    const started = appOn(port, {
      DATABASE_URL: appDb.url!,
      DATABASE_DRIVER: "pg",
      ...inngestEnv,
      BATCHWATCH_API_KEY: API_KEY,
      BATCHWATCH_SESSION_SECRET: "engine-suite-session-secret-0123456789",
      BATCHWATCH_SIMULATED_PROVIDER: "1",
      BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "1",
      BATCH_WEBHOOK_SECRET: WEBHOOK_SECRET,
      BATCHWATCH_ENCRYPTION_KEY: process.env.BATCHWATCH_ENCRYPTION_KEY!,
      BATCHWATCH_POLLS_PER_RUN: String(POLLS_PER_RUN),
      BATCHWATCH_DELIVERY_RETRIES: String(DELIVERY_RETRIES),
      OPENAI_API_KEY: "sk-test-fake",
      OPENAI_BASE_URL: openai.baseUrl,
      OPENAI_WEBHOOK_SECRET,
    });
    cleanups.push(() => started.stop());
    await started.start();
    await waitForRegistration(engine, started);

    return {
      mode,
      engine,
      app: started,
      db: appDb.db,
      openai,
      api: (method, path, body) =>
        fetch(`${started.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface RegisteredFunction {
  id: string;
  slug: string;
  triggers: { type: "EVENT" | "CRON"; value: string; condition: string | null }[] | null;
  configuration: {
    retries: { value: number };
    concurrency: { scope: string; key: string | null; limit: { value: number } }[];
    singleton: { mode: "SKIP" | "CANCEL"; key: string | null } | null;
  };
}

export const APP_ID = "batchwatch";

/** The app's functions as the engine has them. */
export async function registeredFunctions(engine: Engine): Promise<RegisteredFunction[]> {
  const { apps } = await engine.gql<{ apps: { name: string; error: string | null; functions: RegisteredFunction[] }[] }>(`{
    apps { name error functions { id slug triggers { type value condition }
      configuration { retries { value } concurrency { scope key limit { value } } singleton { mode key } } } }
  }`);
  return apps.find((app) => app.name === APP_ID)?.functions ?? [];
}

/**
 * Waits until the engine lists the app's functions: `inngest dev` syncs the URL it was given on its
 * own; a self-hosted server is told to, as a deployment does, by a PUT to the serve route.
 */
async function waitForRegistration(engine: Engine, app: App): Promise<void> {
  let lastPut = 0;
  const what = () =>
    `the engine to register the app's functions (app log:\n${app.log().slice(-1500)}\nengine log:\n${engine.log().slice(-1500)})`;
  await waitFor(what, 90_000, async () => {
    if ((await registeredFunctions(engine)).length > 0) return true;
    if (engine.mode === "self-hosted" && Date.now() - lastPut > 5_000) {
      lastPut = Date.now();
      await fetch(app.serveUrl, { method: "PUT" }).catch(() => undefined);
    }
    return false;
  });
}
