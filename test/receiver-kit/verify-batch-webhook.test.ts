import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { PGlite } from "@electric-sql/pglite";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";

import {
  BatchWebhookError,
  parseBatchWebhookEvent,
  createMemoryReplayStore,
  createPostgresReplayStore,
  createReplayTable,
  type JobFinishedEvent,
  type ReplayStore,
  type ReplayStoreOptions,
  verifyBatchWebhook,
} from "@/receiver-kit/verify-batch-webhook";
import { buildWebhookHeaders } from "@/lib/security/standard-webhooks";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEXT_SECRET = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==";
const START = Date.parse("2026-03-01T12:00:00Z");

let clock = START;
const now = () => clock;

const EVENT: JobFinishedEvent = {
  type: "batch.completed",
  id: "batch_abc123",
  provider: "openai",
  kind: "batch",
  status: "completed",
  providerStatus: "completed",
  reason: null,
  requestCounts: { total: 10, completed: 9, failed: 1 },
  createdAt: "2026-03-01T10:00:00.000Z",
  endedAt: "2026-03-01T11:59:00.000Z",
  metadata: { project: "nightly-evals" },
  detail: { outputFileId: "file_1" },
};

let sequence = 0;
const nextId = () => `msg_test_${++sequence}`;

/** A delivery signed by batchwatch's own signer, at the current test clock. */
function ourDelivery(
  { id = nextId(), body = JSON.stringify(EVENT), secrets = [SECRET] }: { id?: string; body?: string; secrets?: string[] } = {},
): Request {
  const headers = buildWebhookHeaders({ id, body, secrets, now: new Date(clock) });
  return new Request("https://receiver.example/api/batchwatch", { method: "POST", headers, body });
}

/** A delivery signed by the reference `standardwebhooks` library. */
function referenceDelivery({ id = nextId(), body = JSON.stringify(EVENT), secret = SECRET } = {}): Request {
  const signedAt = new Date(clock);
  const headers = {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(clock / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, signedAt, body),
    "content-type": "application/json",
  };
  return new Request("https://receiver.example/api/batchwatch", { method: "POST", headers, body });
}

function withHeader(request: Request, name: string, value: string | null, body?: string): Request {
  const headers = new Headers(request.headers);
  if (value === null) headers.delete(name);
  else headers.set(name, value);
  return new Request(request.url, { method: "POST", headers, body: body ?? JSON.stringify(EVENT) });
}

async function refusal(promise: Promise<unknown>): Promise<BatchWebhookError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BatchWebhookError);
    return error as BatchWebhookError;
  }
  throw new Error("expected the webhook to be refused");
}

beforeEach(() => {
  clock = START;
});

describe("verification", () => {
  test("accepts a delivery signed by the standardwebhooks library and returns the typed event", async () => {
    const delivery = await verifyBatchWebhook(referenceDelivery({ id: "msg_ref_1" }), SECRET, {
      now,
      replayStore: createMemoryReplayStore({ now }),
    });
    expect(delivery).toMatchObject({ webhookId: "msg_ref_1", duplicate: false, event: EVENT });
  });

  test("accepts a delivery signed by batchwatch's signer", async () => {
    const delivery = await verifyBatchWebhook(ourDelivery(), SECRET, { now, replayStore: createMemoryReplayStore({ now }) });
    expect(delivery.event.type === "batch.completed" && delivery.event.requestCounts?.completed).toBe(9);
  });

  test("uses an in-memory replay store by default", async () => {
    const request = () => ourDelivery({ id: "msg_default_store" });
    const first = await verifyBatchWebhook(request(), SECRET, { now });
    await first.ack();
    expect((await verifyBatchWebhook(request(), SECRET, { now })).duplicate).toBe(true);
  });

  test.each([
    ["the new secret signs, receiver knows both", [NEXT_SECRET], [NEXT_SECRET, SECRET]],
    ["the old secret signs, receiver knows both", [SECRET], [NEXT_SECRET, SECRET]],
    ["the sender signs with both, receiver knows only the old", [NEXT_SECRET, SECRET], [SECRET]],
    ["the sender signs with both, receiver knows only the new", [NEXT_SECRET, SECRET], [NEXT_SECRET]],
  ])("during a rotation accepts a delivery when %s", async (_, signingSecrets, receiverSecrets) => {
    const request = ourDelivery({ secrets: signingSecrets });
    await expect(
      verifyBatchWebhook(request, receiverSecrets, { now, replayStore: createMemoryReplayStore() }),
    ).resolves.toMatchObject({ duplicate: false });
  });

  test.each([
    ["batch.failed", { status: "failed", reason: "watch_timeout", requestCounts: null, providerStatus: null }],
    ["batch.expired", { status: "expired", endedAt: null }],
    ["batch.cancelled", { status: "cancelled", createdAt: null, detail: null }],
    ["response.incomplete", { kind: "response", providerStatus: "incomplete" }],
    ["fine_tuning.job.succeeded", { kind: "fine_tuning_job", metadata: { suffix: "v2", epochs: 3 } }],
    ["eval.run.canceled", { kind: "eval_run", status: "cancelled", detail: undefined }],
  ])("accepts a %s event", async (type, fields) => {
    const body = JSON.stringify({ ...EVENT, ...fields, type });
    const delivery = await verifyBatchWebhook(ourDelivery({ body }), SECRET, { now, replayStore: createMemoryReplayStore() });
    expect(delivery.event).toEqual(JSON.parse(body));
  });

  test("accepts the webhook.test event an endpoint check sends", async () => {
    const body = JSON.stringify({ type: "webhook.test", endpoint: "production", sentAt: "2026-03-01T12:00:00.000Z" });
    const delivery = await verifyBatchWebhook(ourDelivery({ body }), SECRET, { now, replayStore: createMemoryReplayStore() });
    expect(delivery.event).toEqual({ type: "webhook.test", endpoint: "production", sentAt: "2026-03-01T12:00:00.000Z" });
  });

  test("keeps unknown extra fields so newer senders stay readable", async () => {
    const request = ourDelivery({ body: JSON.stringify({ ...EVENT, futureField: 1, requestCounts: { ...EVENT.requestCounts, expired: 0 } }) });
    const delivery = await verifyBatchWebhook(request, SECRET, { now, replayStore: createMemoryReplayStore() });
    expect(delivery.event).toMatchObject({ futureField: 1, requestCounts: { expired: 0 } });
  });

  const signed = ourDelivery({ id: "msg_tamper" });
  const signedHeaders = Object.fromEntries(signed.headers);
  test.each([
    ["a tampered body", () => withHeader(signed, "x-unrelated", "1", JSON.stringify({ ...EVENT, status: "failed" }))],
    ["a body re-serialised with different spacing", () => withHeader(signed, "x-unrelated", "1", JSON.stringify(EVENT, null, 2))],
    ["a tampered id", () => withHeader(signed, "webhook-id", "msg_other")],
    ["a tampered timestamp", () => withHeader(signed, "webhook-timestamp", String(Number(signedHeaders["webhook-timestamp"]) - 1))],
    ["a missing signature", () => withHeader(signed, "webhook-signature", null)],
    ["a missing id", () => withHeader(signed, "webhook-id", null)],
    ["a non-numeric timestamp", () => withHeader(signed, "webhook-timestamp", "soon")],
    ["a signature of another version", () => withHeader(signed, "webhook-signature", signedHeaders["webhook-signature"]!.replace("v1,", "v1a,"))],
    ["a garbage signature", () => withHeader(signed, "webhook-signature", "v1,not-base64!!")],
    ["a delivery signed with another secret", () => ourDelivery({ secrets: [NEXT_SECRET] })],
    ["a delivery signed by the library with another secret", () => referenceDelivery({ secret: NEXT_SECRET })],
  ])("refuses %s as invalid_signature (401)", async (_, makeRequest) => {
    const error = await refusal(verifyBatchWebhook(makeRequest(), SECRET, { now, replayStore: createMemoryReplayStore() }));
    expect(error.code).toBe("invalid_signature");
    expect(error.status).toBe(401);
  });

  test.each([
    ["6 minutes old", -6 * 60_000, /too old/],
    ["6 minutes in the future", 6 * 60_000, /future/],
  ])("refuses a timestamp %s as stale_timestamp", async (_, skewMs, message) => {
    const request = ourDelivery();
    clock = START - skewMs;
    const error = await refusal(verifyBatchWebhook(request, SECRET, { now, replayStore: createMemoryReplayStore() }));
    expect(error).toMatchObject({ code: "stale_timestamp", message: expect.stringMatching(message) });
  });

  test("honours a custom tolerance", async () => {
    const request = ourDelivery();
    clock = START + 90_000;
    const error = await refusal(verifyBatchWebhook(request, SECRET, { now, toleranceSeconds: 60, replayStore: createMemoryReplayStore() }));
    expect(error.code).toBe("stale_timestamp");
  });

  test.each([
    ["not JSON", "{not json"],
    ["a JSON array", "[]"],
    ["an unknown event type", JSON.stringify({ ...EVENT, type: "batch.exploded" })],
    ["no id", JSON.stringify({ ...EVENT, id: undefined })],
    ["an empty provider", JSON.stringify({ ...EVENT, provider: "" })],
    ["a numeric reason", JSON.stringify({ ...EVENT, reason: 42 })],
    ["requestCounts left out (it is null when unknown)", JSON.stringify({ ...EVENT, requestCounts: undefined })],
    ["requestCounts as a number", JSON.stringify({ ...EVENT, requestCounts: 10 })],
    ["an empty providerStatus", JSON.stringify({ ...EVENT, providerStatus: "" })],
    ["metadata null", JSON.stringify({ ...EVENT, metadata: null })],
    ["a webhook.test without sentAt", JSON.stringify({ type: "webhook.test", endpoint: "production" })],
    ["a negative count", JSON.stringify({ ...EVENT, requestCounts: { total: 1, completed: -1, failed: 0 } })],
    ["a fractional count", JSON.stringify({ ...EVENT, requestCounts: { total: 1.5, completed: 0, failed: 0 } })],
    ["a missing failed count", JSON.stringify({ ...EVENT, requestCounts: { total: 1, completed: 1 } })],
    ["a createdAt that is not a date", JSON.stringify({ ...EVENT, createdAt: "yesterday" })],
    ["metadata as an array", JSON.stringify({ ...EVENT, metadata: [] })],
    ["detail that is not an object", JSON.stringify({ ...EVENT, detail: "x" })],
  ])("refuses a correctly signed body with %s as invalid_payload (400)", async (_, body) => {
    const error = await refusal(verifyBatchWebhook(ourDelivery({ body }), SECRET, { now, replayStore: createMemoryReplayStore() }));
    expect(error).toMatchObject({ code: "invalid_payload", status: 400 });
  });

  test("refuses a malformed secret without echoing it", async () => {
    const secret = "whsec_s3cr3t material";
    await expect(verifyBatchWebhook(ourDelivery(), secret, { now })).rejects.toThrow(TypeError);
    await expect(verifyBatchWebhook(ourDelivery(), secret, { now })).rejects.not.toThrow(/s3cr3t/);
  });

  test("is one self-contained file: it imports node:crypto and nothing else", () => {
    const source = readFileSync(fileURLToPath(new URL("../../receiver-kit/verify-batch-webhook.ts", import.meta.url)), "utf8");
    const imports = [...source.matchAll(/^\s*import\s.*?from\s+["']([^"']+)["']/gms)].map((match) => match[1]);
    expect(imports).toEqual(["node:crypto"]);
    expect(source).not.toMatch(/require\(|import\(/);
  });
});

// ---------------------------------------------------------------------------------------------
// Duplicate detection, against both stores
// ---------------------------------------------------------------------------------------------

const pglite = new PGlite();
const postgresClient = { query: (text: string, params?: unknown[]) => pglite.query<Record<string, unknown>>(text, params) };

beforeAll(async () => {
  await createReplayTable(postgresClient);
  await createReplayTable(postgresClient); // Idempotent.
});

afterAll(async () => {
  await pglite.close();
});

const STORES: [string, (options: ReplayStoreOptions) => ReplayStore][] = [
  ["memory", (options) => createMemoryReplayStore(options)],
  ["postgres (PGlite)", (options) => createPostgresReplayStore(postgresClient, options)],
];

describe.each(STORES)("duplicate detection with the %s store", (_, makeStore) => {
  const LEASE_MS = 60_000;
  const TTL_MS = 24 * 60 * 60_000;
  let store: ReplayStore;
  let id: string;

  beforeEach(() => {
    store = makeStore({ now, leaseMs: LEASE_MS, ttlMs: TTL_MS });
    id = nextId();
  });

  /** Each retry is a fresh request, re-signed with a new timestamp, under the same webhook-id. */
  const deliver = (secrets: string[] = [SECRET]) => verifyBatchWebhook(ourDelivery({ id, secrets }), SECRET, { now, replayStore: store });

  test("treats a delivery of an acknowledged id as a duplicate, signed by either library", async () => {
    const first = await deliver();
    expect(first.duplicate).toBe(false);
    await first.ack();

    clock += 30 * 60_000; // A retry half an hour later, re-signed.
    expect((await deliver()).duplicate).toBe(true);
    const viaReference = await verifyBatchWebhook(referenceDelivery({ id }), SECRET, { now, replayStore: store });
    expect(viaReference).toMatchObject({ duplicate: true, event: EVENT });
  });

  test("treats the retry after a failed processing (release) as new", async () => {
    const first = await deliver();
    await first.release();
    const retry = await deliver();
    expect(retry.duplicate).toBe(false);
    await retry.ack();
    expect((await deliver()).duplicate).toBe(true);
  });

  test("refuses a concurrent delivery of an id being processed with in_progress (409)", async () => {
    const first = await deliver();
    const error = await refusal(deliver());
    expect(error).toMatchObject({ code: "in_progress", status: 409 });
    await first.ack();
    expect((await deliver()).duplicate).toBe(true);
  });

  test("lets a retry take over a claim whose lease lapsed (the first worker crashed)", async () => {
    const crashed = await deliver();
    clock += LEASE_MS + 1_000;
    const retry = await deliver();
    expect(retry.duplicate).toBe(false);
    await retry.ack();
    // The crashed worker coming back cannot undo or overwrite the new claim.
    await crashed.release();
    await crashed.ack();
    expect((await deliver()).duplicate).toBe(true);
  });

  test("forgets an acknowledged id after its time to live", async () => {
    await (await deliver()).ack();
    clock += TTL_MS + 1_000;
    expect((await deliver()).duplicate).toBe(false);
  });

  test("settles a claim once: release after ack changes nothing", async () => {
    const first = await deliver();
    await first.ack();
    await first.release();
    await first.ack();
    expect((await deliver()).duplicate).toBe(true);
  });

  test("a duplicate's ack and release do nothing", async () => {
    await (await deliver()).ack();
    const duplicate = await deliver();
    await duplicate.release();
    expect((await deliver()).duplicate).toBe(true);
  });

  test("gives exactly one of many simultaneous claims of one id", async () => {
    const claims = await Promise.all(Array.from({ length: 8 }, () => store.claim(id)));
    expect(claims.filter((claim) => claim.status === "claimed")).toHaveLength(1);
    expect(claims.filter((claim) => claim.status === "in_progress")).toHaveLength(7);
  });
});

describe("postgres replay store maintenance", () => {
  test("pruneExpired deletes expired records only", async () => {
    const store = createPostgresReplayStore(postgresClient, { now, ttlMs: 1_000, leaseMs: 1_000 });
    const oldId = nextId();
    const oldClaim = await store.claim(oldId);
    if (oldClaim.status !== "claimed") throw new Error("expected a claim");
    await store.complete(oldId, oldClaim.token);
    clock += 5_000;
    const freshId = nextId();
    await store.claim(freshId);

    expect(await store.pruneExpired()).toBeGreaterThanOrEqual(1);
    const remaining = await postgresClient.query("SELECT webhook_id FROM batchwatch_receiver_replay WHERE webhook_id = ANY($1)", [[oldId, freshId]]);
    expect(remaining.rows.map((row) => row.webhook_id)).toEqual([freshId]);
  });
});

describe("notices the kit reads (subscribers opt in with events)", () => {
  const stalled = {
    type: "batch.stalled", id: "batch_1", provider: "openai", kind: "batch", status: "finalizing", providerStatus: "finalizing",
    stall: { kind: "stuck_in_phase", since: "2026-11-30T10:00:00.000Z", number: 1, forMs: 4_000_000, expectedMs: 3_600_000 },
    requestCounts: { total: 10, completed: 10, failed: 0 }, detectedAt: "2026-11-30T11:06:40.000Z", metadata: {},
  };
  const resumed = {
    type: "batch.resumed", id: "batch_1", provider: "openai", kind: "batch", status: "completed", providerStatus: "completed",
    stall: { kind: "stuck_in_phase", since: "2026-11-30T10:00:00.000Z", number: 1 }, stalledForMs: 5_000_000,
    resumedAt: "2026-11-30T11:23:20.000Z", requestCounts: null, metadata: {},
  };
  const group = {
    type: "group.settled", group: "nightly", settlement: 1, settledAt: "2026-11-30T12:00:00.000Z",
    totals: { batches: 1, outcomes: { completed: 1, failed: 0, expired: 0, cancelled: 0 }, requests: null }, batches: [], metadata: {},
  };
  test.each([stalled, resumed, group])("reads $type", (event) => {
    expect(parseBatchWebhookEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });
  test.each([
    { ...stalled, stall: null },
    { ...resumed, resumedAt: "yesterday" },
    { ...group, batches: {} },
  ])("refuses a malformed $type", (event) => {
    expect(() => parseBatchWebhookEvent(event)).toThrow(BatchWebhookError);
  });
});
