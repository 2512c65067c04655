import { afterAll, beforeAll, expect, test, vi } from "vitest";
import * as batchDetail from "@/app/api/batches/[provider]/[...batchId]/route";
import * as batches from "@/app/api/batches/route";
import * as endpoint from "@/app/api/endpoints/[id]/route";
import * as endpoints from "@/app/api/endpoints/route";
import { setDb } from "@/lib/db";
import { generateWebhookSecret } from "@/lib/security/standard-webhooks";
import { call } from "../helpers/api";
import { createTestDatabase, type TestDatabase } from "../helpers/db";
import { InngestHarness } from "../helpers/inngest-harness";
import { startReceiver } from "../helpers/receiver";

/**
 * Secrets never leave the server except where they must: an endpoint's secret once, in the answer
 * that creates (or rotates) it. This runs a whole flow — endpoints created and rotated, batches
 * tracked to an endpoint and to a plain URL, deliveries failing then landing, error answers — and
 * scans every emitted Inngest event, every captured log line, every later API answer and every
 * stored row for any secret in play.
 */
let testDb: TestDatabase;
let harness: InngestHarness;
const logged: string[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  setDb(testDb.db);
  harness = await new InngestHarness().start();
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((arg) => (arg instanceof Error ? `${arg.message} ${arg.stack}` : typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    });
  }
});
afterAll(async () => {
  vi.restoreAllMocks();
  await harness.stop();
  setDb(undefined);
  await testDb.drop();
});

test("no secret appears in events, logs, later API answers or stored rows", async () => {
  const givenSecret = generateWebhookSecret();
  let receiverSecret = givenSecret;
  const receiver = await startReceiver({
    secret: () => receiverSecret,
    now: () => harness.now(),
    // The first attempt to each destination fails, so retries and their logs happen too.
    respond: (_request, index) => ({ status: index < 2 ? 500 : 200 }),
  });
  try {
    const created = await call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "prod", url: receiver.url, secret: givenSecret } });
    expect(created.status).toBe(201);
    const endpointId = created.json.endpoint?.id ?? created.json.id;
    const rotated = await call(endpoint.PATCH, "PATCH", `/api/endpoints/${endpointId}`, { body: { rotateSecret: true }, params: { id: endpointId } });
    expect(rotated.status).toBe(200);
    const rotatedSecret: string = rotated.json.secret ?? rotated.json.endpoint?.secret;
    expect(rotatedSecret).toMatch(/^whsec_/);
    receiverSecret = rotatedSecret;

    const conflict = await call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "prod", url: receiver.url, secret: givenSecret } });
    expect(conflict.status).toBe(409);
    await call(batches.POST, "POST", "/api/batches", { body: { provider: "simulated", batchId: "sim_5m_completed_10", endpoint: "prod" } });
    await call(batches.POST, "POST", "/api/batches", { body: { provider: "simulated", batchId: "sim_5m_failed_10", webhookUrl: receiver.url } });
    await call(batches.POST, "POST", "/api/batches", { body: { provider: "simulated", batchId: "sim_5m_completed_10", webhookUrl: "https://user:hunter2@example.com/h" } });
    await harness.drain();
    expect(receiver.received.filter((request) => request.verified !== null).length).toBeGreaterThan(0);

    const laterAnswers = [
      await call(endpoints.GET, "GET", "/api/endpoints"),
      await call(endpoint.GET, "GET", `/api/endpoints/${endpointId}`, { params: { id: endpointId } }),
      await call(batchDetail.GET, "GET", "/api/batches/simulated/sim_5m_completed_10", { params: { provider: "simulated", batchId: ["sim_5m_completed_10"] } }),
      await call(batches.GET, "GET", "/api/batches"),
    ].map((answer) => answer.text);

    const tables = ["jobs", "job_events", "subscriptions", "deliveries", "delivery_attempts", "inbound_events", "outbox", "endpoints"];
    const storedRows = await Promise.all(tables.map(async (table) => JSON.stringify(await testDb.db.query(`SELECT * FROM ${table}`))));

    const secrets = {
      "the endpoint's given secret": givenSecret,
      "the endpoint's rotated secret": rotatedSecret,
      BATCH_WEBHOOK_SECRET: process.env.BATCH_WEBHOOK_SECRET!,
      BATCHWATCH_API_KEY: process.env.BATCHWATCH_API_KEY!,
      BATCHWATCH_ENCRYPTION_KEY: process.env.BATCHWATCH_ENCRYPTION_KEY!,
      BATCHWATCH_SESSION_SECRET: process.env.BATCHWATCH_SESSION_SECRET!,
    };
    const places = {
      "an emitted Inngest event": JSON.stringify(harness.received),
      "a log line": logged.join("\n"),
      "a later API answer": laterAnswers.join("\n"),
      "a stored row": storedRows.join("\n"),
    };
    for (const [secretName, secret] of Object.entries(secrets)) {
      // Compare the secret's key material too: `whsec_` + base64 could also leak without its prefix.
      const needles = [secret, secret.replace(/^whsec_/, "")];
      for (const [placeName, text] of Object.entries(places)) {
        for (const needle of needles) {
          expect(text.includes(needle), `${secretName} found in ${placeName}`).toBe(false);
        }
      }
    }
  } finally {
    await receiver.close();
  }
});
