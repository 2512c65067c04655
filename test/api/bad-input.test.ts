import { randomUUID } from "node:crypto";
import { describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as batch from "@/app/api/batches/[provider]/[...batchId]/route";
import * as recover from "@/app/api/deliveries/recover/route";
import * as resend from "@/app/api/deliveries/[id]/resend/route";
import * as endpointDeliveries from "@/app/api/endpoints/[id]/deliveries/route";
import * as gemini from "@/app/api/webhooks/gemini/route";
import * as openai from "@/app/api/webhooks/openai/route";
import { loadBatchList, loadBatchPage, parseBatchFilters } from "@/lib/dashboard/batches";
import { recoverSinceSchema } from "@/lib/dashboard/deliveries";
import { encodeCursor } from "@/lib/db/cursor";
import { buildWebhookHeaders, generateWebhookSecret } from "@/lib/security/standard-webhooks";
import { NextRequest } from "next/server";
import { proxy } from "@/proxy";
import { withEnv } from "../helpers/env";
import { call, useApiHarness } from "../helpers/api";

/**
 * Input an attack on the running app turned into 500s: each is now a 4xx with the error shape
 * (or, for a provider's signed webhook, stored and acknowledged), and nothing is written.
 */

const harness = useApiHarness();

const SOME_UUID = "3f1c2a4e-8b6d-4c1e-9a2f-7d5e6b4c3a21";
const track = { provider: "simulated", batchId: "sim_1s_completed", webhookUrl: "http://127.0.0.1:9/hook" };
const deeplyNested = (depth: number) => `{"provider":"simulated","batchId":"sim_1s_completed","webhookUrl":"http://127.0.0.1:9/hook","metadata":${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}}`;

function expectClientError(response: { status: number; json: any }, field?: string) {
  expect(response.status, JSON.stringify(response.json)).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect(response.json.error).toEqual({ code: expect.any(String), message: expect.any(String) });
  if (field) expect(response.json.error.message).toContain(field);
}

describe("tracking refuses what Postgres cannot store", () => {
  test.each([
    ["a NUL in batchId", { ...track, batchId: "sim_1s\u0000_completed" }, "batchId"],
    ["a NUL in evalId", { ...track, kind: "batch", evalId: "eval\u0000" }, "evalId"],
    ["a NUL in endpoint", { provider: "simulated", batchId: "sim_1s_completed", endpoint: "ops\u0000" }, "endpoint"],
    ["a NUL in webhookUrl", { ...track, webhookUrl: "http://127.0.0.1:9/\u0000" }, "webhookUrl"],
    ["a NUL in a metadata value", { ...track, metadata: { note: "a\u0000b" } }, "metadata.note"],
    ["a NUL in a metadata key", { ...track, metadata: { "a\u0000": 1 } }, "metadata"],
    ["a NUL deep in metadata", { ...track, metadata: { list: [{ text: "\u0000" }] } }, "metadata.list.0.text"],
    ["a lone high surrogate in batchId", { ...track, batchId: "sim_\ud800" }, "batchId"],
    ["a lone low surrogate in metadata", { ...track, metadata: { note: "\udc00x" } }, "metadata.note"],
  ])("%s is a 400 naming the field", async (_name, body, field) => {
    const response = await call(batches.POST, "POST", "/api/batches", { body });
    expectClientError(response, field);
    expect(response.status).toBe(400);
    expect(await harness.db.query("SELECT 1 FROM jobs")).toEqual([]);
  });

  test.each([33, 5_000, 10_000])("metadata nested %i deep is a 400, never a stack overflow", async (depth) => {
    const response = await call(batches.POST, "POST", "/api/batches", { body: deeplyNested(depth) });
    expectClientError(response, "nest");
  });

  test("metadata nested 31 deep is still accepted", async () => {
    const response = await call(batches.POST, "POST", "/api/batches", { body: deeplyNested(31) });
    expect(response.status).toBe(202);
  });

  test("a well-formed surrogate pair (an emoji) is accepted", async () => {
    const response = await call(batches.POST, "POST", "/api/batches", { body: { ...track, metadata: { note: "done 🎉" } } });
    expect(response.status).toBe(202);
  });
});

describe("paths, queries and cursors", () => {
  const cursor = (at: string) => encodeCursor({ at, id: SOME_UUID });

  test.each([
    ["GET /api/batches/openai/%00", () => call(batch.GET, "GET", "/api/batches/openai/%00", { params: { provider: "openai", batchId: ["\u0000"] } })],
    ["GET /api/batches/gemini/batches/%00/results", () =>
      call(batch.GET, "GET", "/api/batches/gemini/batches/%00/results", { params: { provider: "gemini", batchId: ["batches", "\u0000", "results"] } })],
    ["GET /api/batches/openai/%ED%A0%80 (a lone surrogate)", () => call(batch.GET, "GET", "/api/batches/openai/x", { params: { provider: "openai", batchId: ["\ud800"] } })],
    ["POST /api/deliveries/%00/resend", () => call(resend.POST, "POST", "/api/deliveries/%00/resend", { params: { id: "\u0000" } })],
    ["POST /api/deliveries/recover since year 0", () => call(recover.POST, "POST", "/api/deliveries/recover", { body: { since: "0000-01-01T00:00:00Z" } })],
    ["POST /api/deliveries/recover since year 0 by its offset", () =>
      call(recover.POST, "POST", "/api/deliveries/recover", { body: { since: "0001-01-01T00:00:00+01:00", dryRun: true } })],
    ...["9999-99-99 99:99:99", "2026-02-30 12:00:00", "2025-02-29 12:00:00", "0000-01-01 00:00:00", "2026-01-01 24:00:00", "2026-01-01 12:00:00+16"].flatMap(
      (at) => [
        [`GET /api/batches?cursor=<${at}>`, () => call(batches.GET, "GET", `/api/batches?cursor=${cursor(at)}`)],
        [`GET /api/endpoints/{id}/deliveries?cursor=<${at}>`, () =>
          call(endpointDeliveries.GET, "GET", `/api/endpoints/${SOME_UUID}/deliveries?cursor=${cursor(at)}`, { params: { id: SOME_UUID } })],
      ] as [string, () => ReturnType<typeof call>][],
    ),
    ["GET /api/batches?cursor=%00", () => call(batches.GET, "GET", "/api/batches?cursor=%00")],
  ] as [string, () => ReturnType<typeof call>][])("%s is a 4xx with the error shape", async (_name, request) => {
    expectClientError(await request());
  });

  test("a cursor on a real leap day is still a cursor", async () => {
    const response = await call(batches.GET, "GET", `/api/batches?cursor=${cursor("2024-02-29 12:00:00.123456+00")}`);
    expect(response.status).toBe(200);
  });
});

describe("the dashboard", () => {
  test("a search for a NUL is ignored rather than sent to Postgres", async () => {
    const filters = parseBatchFilters({ q: "\u0000", cursor: "\u0000" });
    expect(filters.q).toBeUndefined();
    await expect(loadBatchList(harness.db, filters)).resolves.toMatchObject({ batches: [] });
  });

  test("a batch page for an id Postgres cannot hold is not found", async () => {
    await expect(loadBatchPage(harness.db, "openai", "batch_\u0000")).resolves.toBeNull();
    await expect(loadBatchPage(harness.db, "openai", "batch_\ud800")).resolves.toBeNull();
  });

  test("recovering since year 0 is a form error", () => {
    expect(recoverSinceSchema.safeParse({ since: "0000-01-01T00:00" }).success).toBe(false);
    expect(recoverSinceSchema.safeParse({ since: "2026-01-01T00:00" }).success).toBe(true);
  });
});

describe("signed provider webhooks carrying what Postgres cannot store", () => {
  const GEMINI_SECRET = generateWebhookSecret();
  const OPENAI_SECRET = generateWebhookSecret();
  const signed = (body: string, secret: string) =>
    ({ ...buildWebhookHeaders({ id: `msg_${randomUUID()}`, body, secrets: [secret], now: new Date() }) }) as Record<string, string>;

  test.each([
    ["gemini", gemini.POST, GEMINI_SECRET, { type: "batch.succeeded", version: "v1", timestamp: "2026-01-01T00:00:00Z", data: { id: "batches/1\u0000", note: "\ud800", "k\u0000": 1 } }],
    ["openai", openai.POST, OPENAI_SECRET, { id: "evt_1", type: "batch.completed", created_at: 1, data: { id: "batch_\u0000", extra: ["\u0000", "\udfff"] } }],
    ["openai (an event type with a NUL)", openai.POST, OPENAI_SECRET, { id: "evt_2", type: "batch.\u0000", data: { id: "batch_1" } }],
  ])("a %s event is stored with the characters replaced and acknowledged 200", async (source, handler, secret, event) => {
    const body = JSON.stringify(event);
    await withEnv({ GEMINI_WEBHOOK_SECRET: GEMINI_SECRET, OPENAI_WEBHOOK_SECRET: OPENAI_SECRET }, async () => {
      const response = await call(handler, "POST", `/api/webhooks/${source}`, { body, headers: signed(body, secret), key: null });
      expect(response.status, response.text).toBe(200);
      expect(response.json.received).toBe(true);
    });
    const [stored] = await harness.db.query<{ payload: unknown; object_id: string | null; event_type: string }>(
      "SELECT payload, object_id, event_type FROM inbound_events",
    );
    const text = JSON.stringify(stored);
    expect(text).not.toMatch(/\\u0000|\\ud[89a-f][0-9a-f]{2}/i);
    expect(text).toContain("\uFFFD");
  });

  test("a signed event nested far too deep is stored, the depth cut off", async () => {
    const depth = 10_000;
    const body = `{"id":"evt_deep","type":"batch.completed","data":{"id":"batch_1","x":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
    await withEnv({ OPENAI_WEBHOOK_SECRET: OPENAI_SECRET }, async () => {
      const response = await call(openai.POST, "POST", "/api/webhooks/openai", { body, headers: signed(body, OPENAI_SECRET), key: null });
      expect(response.status, response.text).toBe(200);
    });
    expect(await harness.db.query("SELECT 1 FROM inbound_events")).toHaveLength(1);
  });
});

describe("paths that are not valid percent-encoding", () => {
  test.each(["/api/batches/openai/%ff%fe", "/api/deliveries/%E0%A4%A/resend", "/batches/openai/%ff%fe"])(
    "%s is a 400 with the error shape from the proxy, before Next decodes it",
    async (path) => {
      const response = await proxy(new NextRequest(`http://batchwatch.test${path}`, { headers: { authorization: "Bearer test-api-key" } }));
      expect(response.status).toBe(400);
      expect((await response.json()).error).toEqual({ code: "invalid_request", message: expect.stringContaining("percent-encoded") });
    },
  );
});
