import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { sendEvents } from "@/inngest/send";
import { setDb } from "@/lib/db";
import type { Database } from "@/lib/db/types";
import type { EventSender } from "@/lib/events/outbox";
import { createTestDatabase, resetDatabase, type TestDatabase } from "./db";
import { replaceEnv } from "./env";
import { startFakeOpenAI } from "./fake-openai";
import { InngestHarness } from "./inngest-harness";
import { startReceiver } from "./receiver";

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
export type FakeOpenAI = Awaited<ReturnType<typeof startFakeOpenAI>>;

export interface FlowOptions {
  /** The database to install with setDb (default: a fresh PGlite one). */
  database?: () => Promise<TestDatabase>;
  /**
   * The receiver's secret and answers (default: BATCH_WEBHOOK_SECRET, 200). It always verifies on
   * the harness's clock.
   */
  receiver?: Partial<Omit<Parameters<typeof startReceiver>[0], "now">>;
  /** Also start the fake OpenAI (it points OPENAI_BASE_URL at itself). */
  openai?: boolean;
  /** Environment variables set for the whole file. */
  env?: Record<string, string>;
  /**
   * "test" (default): a fresh harness, empty tables and an empty receiver for each test.
   * "file": one harness for the whole file, nothing reset between tests.
   */
  per?: "test" | "file";
  /** Timeout of the start-up hook (a database can be slow to create on a busy machine). */
  setupTimeout?: number;
}

export interface Flow {
  readonly testDb: TestDatabase;
  readonly db: Database;
  readonly harness: InngestHarness;
  /** The app's sender (through the Inngest client, to the harness's stand-in event API), for lib calls. */
  readonly send: EventSender;
  readonly receiver: Receiver;
  /** Only with `openai: true`. */
  readonly openai: FakeOpenAI;
}

/**
 * Registers the hooks of a test file that runs the app's functions end to end: a database
 * installed with setDb, the in-process Inngest harness (its stand-in event API and fake clock), a
 * local receiver verifying every delivery, and optionally the fake OpenAI. Returns getters for them,
 * to use inside tests and hooks.
 */
export function useFlow(options: FlowOptions = {}): Flow {
  const per = options.per ?? "test";
  let testDb: TestDatabase | undefined;
  let harness: InngestHarness | undefined;
  let receiver: Receiver | undefined;
  let openai: FakeOpenAI | undefined;
  let restoreEnv: (() => void) | undefined;

  const flow: Flow = {
    get testDb() {
      return started(testDb, "database");
    },
    get db() {
      return started(testDb, "database").db;
    },
    get harness() {
      return started(harness, "harness");
    },
    send: sendEvents,
    get receiver() {
      return started(receiver, "receiver");
    },
    get openai() {
      return started(openai, "fake OpenAI (pass { openai: true })");
    },
  };

  beforeAll(async () => {
    testDb = await (options.database ?? (() => createTestDatabase("pglite")))();
    setDb(testDb.db);
    if (per === "file") harness = await new InngestHarness().start();
    receiver = await startReceiver({
      secret: process.env.BATCH_WEBHOOK_SECRET!,
      ...options.receiver,
      now: () => flow.harness.now(),
    });
    if (options.openai) openai = await startFakeOpenAI();
    if (options.env) restoreEnv = replaceEnv(options.env);
  }, options.setupTimeout);
  afterAll(async () => {
    restoreEnv?.();
    await Promise.all([openai?.close(), receiver?.close()]);
    if (per === "file") await harness?.stop();
    setDb(undefined);
    await testDb?.drop();
  });

  if (per === "test") {
    beforeEach(async () => {
      await resetDatabase(flow.db);
      harness = await new InngestHarness().start();
      flow.receiver.received.length = 0;
    });
    afterEach(async () => {
      await harness?.stop();
    });
  }
  return flow;
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`useFlow: the ${what} has not started yet`);
  return value;
}
