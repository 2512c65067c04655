import { createHmac, randomUUID } from "node:crypto";
import OpenAI from "openai";
import { afterAll, beforeEach, describe, expect, test, vi } from "vitest";
import * as exampleReceiver from "@/app/api/examples/receiver/route";
import * as gemini from "@/app/api/webhooks/gemini/route";
import * as openai from "@/app/api/webhooks/openai/route";
import { buildWebhookHeaders, generateWebhookSecret } from "@/lib/security/standard-webhooks";
import { withEnv } from "../helpers/env";
import { call, useApiHarness, waitUntil } from "../helpers/api";

const harness = useApiHarness();

const GEMINI_SECRET = generateWebhookSecret();

beforeEach(() => {
  process.env.GEMINI_WEBHOOK_SECRET = GEMINI_SECRET;
});
afterAll(() => {
  delete process.env.GEMINI_WEBHOOK_SECRET;
});

function signed(body: string, secret: string, id = `msg_${randomUUID()}`, now = new Date()) {
  return { ...buildWebhookHeaders({ id, body, secrets: [secret], now }) } as Record<string, string>;
}

const geminiEvent = (type: string, data: Record<string, unknown>) =>
  JSON.stringify({ type, version: "v1", timestamp: new Date().toISOString(), data });

const postGemini = (body: string, headers: Record<string, string>) =>
  call(gemini.POST, "POST", "/api/webhooks/gemini", { body, headers, key: null });

async function unsentOutbox() {
  return (await harness.db.query<{ event_id: string }>("SELECT event_id FROM outbox WHERE sent_at IS NULL ORDER BY event_id")).map(
    (row) => row.event_id,
  );
}

async function inbound() {
  return harness.db.query<{ source: string; event_type: string; object_id: string | null }>(
    "SELECT source, event_type, object_id FROM inbound_events ORDER BY id",
  );
}

describe("POST /api/webhooks/gemini", () => {
  test.each([
    ["batch.succeeded", { id: "batches/123", output_file_uri: "files/out-1" }],
    ["batch.failed", { id: "batches/123", error_code: 3, error_message: "invalid input" }],
    ["batch.expired", { id: "batches/123" }],
    ["batch.cancelled", { id: "batches/123" }],
  ])("a verified %s is stored and becomes a settle signal for batches/123", async (type, data) => {
    const body = geminiEvent(type, data);
    const response = await postGemini(body, signed(body, GEMINI_SECRET));
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ received: true, duplicate: false });
    expect(await inbound()).toEqual([{ source: "gemini", event_type: type, object_id: "batches/123" }]);
    expect(harness.events.named("batch/signal.received")).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ source: "gemini", provider: "gemini", kind: "batch", batchId: "batches/123", eventType: type }),
      }),
    ]);
  });

  test("a bare batch id is named batches/<id>, as batchwatch tracks Gemini batches", async () => {
    const body = geminiEvent("batch.succeeded", { id: "456" });
    await postGemini(body, signed(body, GEMINI_SECRET));
    expect((await inbound())[0]!.object_id).toBe("batches/456");
  });

  test("a retried delivery (same webhook-id) is acknowledged as a duplicate and stored once", async () => {
    const body = geminiEvent("batch.succeeded", { id: "batches/123" });
    const headers = signed(body, GEMINI_SECRET, "msg_retry");
    expect((await postGemini(body, headers)).json.duplicate).toBe(false);
    const retry = await postGemini(body, headers);
    expect(retry.status).toBe(200);
    expect(retry.json.duplicate).toBe(true);
    expect(await inbound()).toHaveLength(1);
  });

  test("a verified event that ends no batch (video.generated) is logged but signals nothing", async () => {
    const body = geminiEvent("video.generated", { id: "operations/v1" });
    expect((await postGemini(body, signed(body, GEMINI_SECRET))).status).toBe(200);
    expect(await inbound()).toEqual([{ source: "gemini", event_type: "video.generated", object_id: "operations/v1" }]);
    expect(harness.events.events).toEqual([]);
  });

  test.each([
    ["signed with another secret", () => {
      const body = geminiEvent("batch.succeeded", { id: "batches/1" });
      return { body, headers: signed(body, generateWebhookSecret()) };
    }],
    ["a body changed after signing", () => {
      const body = geminiEvent("batch.succeeded", { id: "batches/1" });
      return { body: body.replace("batches/1", "batches/2"), headers: signed(body, GEMINI_SECRET) };
    }],
    ["a timestamp ten minutes old", () => {
      const body = geminiEvent("batch.succeeded", { id: "batches/1" });
      return { body, headers: signed(body, GEMINI_SECRET, "msg_old", new Date(Date.now() - 600_000)) };
    }],
    ["no signature headers", () => ({ body: geminiEvent("batch.succeeded", { id: "batches/1" }), headers: {} })],
  ])("%s → 400 invalid_signature, nothing stored or sent", async (_name, make) => {
    const { body, headers } = make();
    const response = await postGemini(body, headers);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_signature");
    expect(await inbound()).toEqual([]);
    expect(harness.events.events).toEqual([]);
  });

  test("without GEMINI_WEBHOOK_SECRET every delivery is invalid_signature, saying it is not configured", async () => {
    const body = geminiEvent("batch.succeeded", { id: "batches/1" });
    await withEnv({ GEMINI_WEBHOOK_SECRET: undefined }, async () => {
      const response = await postGemini(body, signed(body, GEMINI_SECRET));
      expect(response.status).toBe(400);
      expect(response.json.error).toMatchObject({ code: "invalid_signature", message: expect.stringContaining("GEMINI_WEBHOOK_SECRET is not set") });
    });
    expect(await inbound()).toEqual([]);
  });

  test("a verified body that is not a Gemini event is 400 invalid_request", async () => {
    const body = JSON.stringify({ hello: "world" });
    const response = await postGemini(body, signed(body, GEMINI_SECRET));
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_request");
    expect(await inbound()).toEqual([]);
  });

  test("a body over 64 KB is 413 payload_too_large", async () => {
    const body = geminiEvent("batch.succeeded", { id: "batches/1", padding: "x".repeat(70_000) });
    const response = await postGemini(body, signed(body, GEMINI_SECRET));
    expect(response.status).toBe(413);
    expect(response.json.error.code).toBe("payload_too_large");
  });

  test("while Inngest is down the event is still acknowledged and kept, and its signal is sent once Inngest is back", async () => {
    const body = geminiEvent("batch.succeeded", { id: "batches/1" });
    const errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      harness.events.down = true;
      const response = await postGemini(body, signed(body, GEMINI_SECRET));
      expect(response.status).toBe(200);
      const [stored] = await harness.db.query<{ id: number }>("SELECT id FROM inbound_events");
      expect(await unsentOutbox()).toEqual([`signal:${stored!.id}`]);
      expect(harness.events.events).toEqual([]);
      expect(errorLog).toHaveBeenCalledWith(expect.stringContaining("(they stay in the outbox and are retried)"));

      harness.events.down = false;
      await waitUntil(async () => (await unsentOutbox()).length === 0);
      expect(harness.events.named("batch/signal.received").map((event) => event.id)).toEqual([`signal:${stored!.id}`]);
    } finally {
      harness.events.down = false;
      errorLog.mockRestore();
    }
  });

  test("the event and its signal are stored together: a failed store acknowledges nothing and queues nothing", async () => {
    await harness.db.exec("ALTER TABLE outbox ADD CONSTRAINT refuse_all CHECK (false) NOT VALID");
    const errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const body = geminiEvent("batch.succeeded", { id: "batches/1" });
      const response = await postGemini(body, signed(body, GEMINI_SECRET));
      expect(response.status).toBe(500);
      expect(await inbound()).toEqual([]);
    } finally {
      errorLog.mockRestore();
      await harness.db.exec("ALTER TABLE outbox DROP CONSTRAINT refuse_all");
    }
    expect(harness.events.events).toEqual([]);
  });
});

describe("POST /api/webhooks/openai", () => {
  // OpenAI's own SDK is the judge of what OpenAI signs: the route must accept what it accepts and
  // refuse what it refuses, for a `whsec_` secret and for one given without the prefix (which the
  // SDK takes as the key's UTF-8 bytes).
  const sdk = new OpenAI({ apiKey: "not-used", maxRetries: 0 });
  const body = JSON.stringify({ object: "event", id: "evt_1", type: "batch.completed", created_at: 1, data: { id: "batch_sdk" } });
  const signedAsOpenAI = (key: Buffer, payload: string, id = `wh_${randomUUID()}`) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${payload}`).digest("base64");
    return { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": `v1,${signature}`, "content-type": "application/json" };
  };
  const whsec = generateWebhookSecret();

  test.each([
    ["a whsec_ secret", whsec, Buffer.from(whsec.slice("whsec_".length), "base64")],
    ["a secret without the prefix", "plain-secret-from-a-vault", Buffer.from("plain-secret-from-a-vault", "utf8")],
  ])("with %s it accepts what the openai SDK accepts and refuses a changed body", async (_name, secret, key) => {
    const headers = signedAsOpenAI(key, body);
    await expect(sdk.webhooks.verifySignature(body, headers, secret)).resolves.toBeUndefined();
    await expect(sdk.webhooks.verifySignature(body.replace("batch_sdk", "batch_x"), headers, secret)).rejects.toThrow();
    await withEnv({ OPENAI_WEBHOOK_SECRET: secret }, async () => {
      const post = (payload: string) => call(openai.POST, "POST", "/api/webhooks/openai", { body: payload, headers, key: null });
      expect((await post(body.replace("batch_sdk", "batch_x"))).json.error.code).toBe("invalid_signature");
      const accepted = await post(body);
      expect(accepted.status).toBe(200);
      expect(accepted.json).toEqual({ received: true, duplicate: false });
    });
    expect(harness.events.named("batch/signal.received")).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ source: "openai", batchId: "batch_sdk", eventType: "batch.completed" }) }),
    ]);
  });
});

describe("POST /api/examples/receiver", () => {
  const SECRET = process.env.BATCH_WEBHOOK_SECRET!;
  const event = JSON.stringify({
    type: "batch.completed",
    id: "sim_1s_completed",
    provider: "simulated",
    kind: "batch",
    status: "completed",
    providerStatus: "completed",
    reason: null,
    requestCounts: { total: 1, completed: 1, failed: 0 },
    createdAt: "2026-01-01T00:00:00Z",
    endedAt: "2026-01-01T00:01:00Z",
    metadata: {},
  });
  const post = (body: string, headers: Record<string, string>) =>
    call(exampleReceiver.POST, "POST", "/api/examples/receiver", { body, headers, key: null });

  test("accepts a signed event once, then acknowledges its retry as a duplicate", async () => {
    const headers = signed(event, SECRET, `msg_${randomUUID()}`);
    expect((await post(event, headers)).json).toEqual({ received: true, duplicate: false });
    const retry = await post(event, headers);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ received: true, duplicate: true });
  });

  test.each([
    ["a wrong signature", () => signed(event, generateWebhookSecret()), "invalid_signature"],
    ["a stale timestamp", () => signed(event, SECRET, "msg_stale", new Date(Date.now() - 3_600_000)), "invalid_signature"],
  ])("%s → 400 %s", async (_name, headers, code) => {
    const response = await post(event, headers());
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe(code);
  });

  test("a signed body that is not a batchwatch event is 400 invalid_request", async () => {
    const body = JSON.stringify({ type: "batch.completed" });
    const response = await post(body, signed(body, SECRET));
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe("invalid_request");
  });
});
