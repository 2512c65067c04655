import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { setDb, type Database } from "@/lib/db";
import { buildWebhookHeaders, generateWebhookSecret, signPayload } from "@/lib/security/standard-webhooks";
import { createTestDatabase, type TestDatabase } from "../helpers/db";
import { startEventApiStandIn, type EventApiStandIn } from "../helpers/event-api";

/**
 * Seeded fuzzing of the public provider-webhook routes, called in-process: thousands of mutated
 * requests (bad or foreign signatures, stale and future timestamps, replayed ids with altered
 * bodies, truncated, empty and non-JSON bodies, wrong content types, oversized headers) must all
 * be refused with a 4xx — never accepted, never a 5xx — and must store nothing.
 */

const ITERATIONS = 10_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_101);

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (max: number) => Math.floor(next() * max),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    ascii: (length: number) => Array.from({ length }, () => String.fromCharCode(32 + Math.floor(next() * 95))).join(""),
    bytes: (length: number) => Buffer.from(Array.from({ length }, () => Math.floor(next() * 256))),
  };
}

type Handler = (request: Request, context: { params: Promise<Record<string, never>> }) => Promise<Response>;

interface Target {
  name: string;
  path: string;
  handler: Handler;
  secret: string;
  /** A realistic event body this provider sends. */
  event: (rand: ReturnType<typeof prng>) => string;
}

const GEMINI_SECRET = generateWebhookSecret();
const OPENAI_SECRET = generateWebhookSecret();
const OPENAI_ROUTE = "app/api/webhooks/openai/route.ts";

async function loadTargets(): Promise<Target[]> {
  const targets: Target[] = [
    {
      name: "gemini",
      path: "/api/webhooks/gemini",
      handler: (await import("@/app/api/webhooks/gemini/route")).POST as Handler,
      secret: GEMINI_SECRET,
      event: (rand) =>
        JSON.stringify({
          type: rand.pick(["batch.succeeded", "batch.failed", "batch.expired"]),
          version: "v1",
          timestamp: new Date().toISOString(),
          data: { id: `batches/${rand.int(1e9)}` },
        }),
    },
  ];
  // The OpenAI route is another engineer's; it is fuzzed too once it exists.
  if (existsSync(OPENAI_ROUTE)) {
    targets.push({
      name: "openai",
      path: "/api/webhooks/openai",
      handler: (await import("@/app/api/webhooks/openai/route")).POST as Handler,
      secret: OPENAI_SECRET,
      event: (rand) =>
        JSON.stringify({
          id: `evt_${rand.int(1e9)}`,
          object: "event",
          created_at: Math.floor(Date.now() / 1000),
          type: rand.pick(["batch.completed", "batch.failed", "response.completed"]),
          data: { id: `batch_${rand.int(1e9)}` },
        }),
    });
  }
  return targets;
}

const OVERSIZED_PADDING = "x".repeat(256 * 1024 + 4096);

interface FuzzCase {
  mutation: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function validHeaders(target: Target, id: string, body: string, timestamp = nowSeconds()) {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signPayload({ id, timestamp, body, secrets: [target.secret] }),
  };
}

/** Each mutation yields a request that a correct receiver must refuse. */
const MUTATIONS: Record<string, (target: Target, rand: ReturnType<typeof prng>) => FuzzCase> = {
  random_signature(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    return { mutation: "", body, headers: { ...headers, "webhook-signature": `v1,${rand.bytes(32).toString("base64")}` } };
  },
  foreign_secret(target, rand) {
    const body = target.event(rand);
    const id = `msg_${rand.int(1e9)}`;
    return { mutation: "", body, headers: validHeaders({ ...target, secret: generateWebhookSecret() }, id, body) };
  },
  wrong_signature_version(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    const signature = headers["webhook-signature"].slice(3);
    return { mutation: "", body, headers: { ...headers, "webhook-signature": `${rand.pick(["v2", "v1a", "V1", "v0"])},${signature}` } };
  },
  stale_timestamp(target, rand) {
    const body = target.event(rand);
    return { mutation: "", body, headers: validHeaders(target, `msg_${rand.int(1e9)}`, body, nowSeconds() - 301 - rand.int(1e7)) };
  },
  future_timestamp(target, rand) {
    const body = target.event(rand);
    return { mutation: "", body, headers: validHeaders(target, `msg_${rand.int(1e9)}`, body, nowSeconds() + 301 + rand.int(1e7)) };
  },
  malformed_timestamp(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    const timestamp = rand.pick(["", "abc", "-1", "1e9", " ", `${nowSeconds()}.5`, "9".repeat(40), `0x${nowSeconds().toString(16)}`]);
    return { mutation: "", body, headers: { ...headers, "webhook-timestamp": timestamp || "x" } };
  },
  replayed_id_altered_body(target, rand) {
    const original = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, original);
    const altered = rand.pick([
      () => original.replace(/\d/, (digit) => String((Number(digit) + 1) % 10)),
      () => `${original} `,
      () => original.replace('"type":"', '"type":"x'),
      () => JSON.stringify({ ...JSON.parse(original), injected: true }),
    ])();
    return { mutation: "", body: altered, headers };
  },
  truncated_body(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    return { mutation: "", body: body.slice(0, rand.int(body.length)), headers };
  },
  empty_body(target, rand) {
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, target.event(rand));
    return { mutation: "", body: "", headers };
  },
  non_json_body(target, rand) {
    const body = rand.pick([() => rand.ascii(rand.int(200)), () => "<xml/>", () => "null", () => "[]", () => rand.ascii(1)])();
    return { mutation: "", body, headers: { ...validHeaders(target, `msg_${rand.int(1e9)}`, target.event(rand)) } };
  },
  binary_body(target, rand) {
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, target.event(rand));
    return { mutation: "", body: rand.bytes(1 + rand.int(512)), headers };
  },
  wrong_content_type(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, `${body}x`);
    const contentType = rand.pick(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]);
    return { mutation: "", body, headers: { ...headers, "content-type": contentType } };
  },
  missing_header(target, rand) {
    const body = target.event(rand);
    const headers: Record<string, string> = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    delete headers[rand.pick(["webhook-id", "webhook-timestamp", "webhook-signature"])];
    return { mutation: "", body, headers };
  },
  huge_headers(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    const junkSignatures = Array.from({ length: 200 + rand.int(200) }, () => `v1,${rand.bytes(32).toString("base64")}`).join(" ");
    return {
      mutation: "",
      body,
      headers: rand.pick([
        { ...headers, "webhook-signature": junkSignatures },
        { ...headers, "webhook-id": `msg_${rand.ascii(8_000 + rand.int(8_000)).replace(/\s/g, "_")}` },
        // Padding alone would leave a valid signature: this one is also signed for another body.
        { ...validHeaders(target, headers["webhook-id"], `${body} `), "x-padding": rand.ascii(16_000) },
      ]),
    };
  },
  garbage_signature_syntax(target, rand) {
    const body = target.event(rand);
    const headers = validHeaders(target, `msg_${rand.int(1e9)}`, body);
    const signature = rand.pick([",", "v1,", "v1,,,,", " ", "v1 v1 v1", rand.ascii(64), `v1,${"=".repeat(44)}`, "v1,!!!!"]);
    return { mutation: "", body, headers: { ...headers, "webhook-signature": signature.trim() === "" ? "v1," : signature } };
  },
  oversized_body(target, rand) {
    // Just over the largest limit (OpenAI's 256 KB); half declare their length as HTTP clients do,
    // half are streamed without one, so both refusal paths are exercised.
    const body = `{"type":"batch.succeeded","data":{"id":"batches/1","pad":"${OVERSIZED_PADDING.slice(0, 256 * 1024 + rand.int(4096))}"}}`;
    const headers: Record<string, string> = validHeaders({ ...target, secret: generateWebhookSecret() }, `msg_${rand.int(1e9)}`, body);
    if (rand.next() < 0.5) headers["content-length"] = String(Buffer.byteLength(body));
    return { mutation: "", body, headers };
  },
};

const MUTATION_NAMES = Object.keys(MUTATIONS);

describe("fuzzing the provider webhook routes", () => {
  let testDb: TestDatabase;
  let db: Database;
  let eventApi: EventApiStandIn;
  let targets: Target[];

  beforeAll(async () => {
    testDb = await createTestDatabase("pglite");
    db = testDb.db;
    setDb(db);
    eventApi = await startEventApiStandIn();
    process.env.GEMINI_WEBHOOK_SECRET = GEMINI_SECRET;
    process.env.OPENAI_WEBHOOK_SECRET = OPENAI_SECRET;
    targets = await loadTargets();
  }, 180_000);

  afterAll(async () => {
    delete process.env.GEMINI_WEBHOOK_SECRET;
    delete process.env.OPENAI_WEBHOOK_SECRET;
    await eventApi?.close();
    setDb(undefined);
    await testDb?.drop();
  });

  const send = (target: Target, { body, headers }: { body: string | Uint8Array; headers: Record<string, string> }) =>
    target.handler(
      new Request(`http://batchwatch.test${target.path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: body.length === 0 ? undefined : (body as BodyInit),
      }),
      { params: Promise.resolve({}) },
    );

  const storedCount = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM inbound_events"))[0]!.n;

  test(`${ITERATIONS} seeded mutated requests are all refused with a 4xx and store nothing`, async () => {
    // First, proof the harness can be accepted at all: one correctly signed event per route.
    for (const target of targets) {
      const body = target.event(prng(1));
      const id = `msg_baseline_${target.name}`;
      const response = await send(target, { body, headers: { ...buildWebhookHeaders({ id, body, secrets: [target.secret] }) } });
      expect(response.status, `${target.name} baseline`).toBe(200);
    }
    const baselineStored = await storedCount();
    const baselineEvents = eventApi.events.length;
    expect(baselineStored).toBe(targets.length);

    const rand = prng(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const startedAt = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const target = targets[i % targets.length]!;
      const mutation = MUTATION_NAMES[rand.int(MUTATION_NAMES.length)]!;
      const fuzzCase = MUTATIONS[mutation]!(target, rand);
      const response = await send(target, fuzzCase);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const text = await response.text();
      const refused = response.status === 400 || response.status === 413;
      if (!refused && failures.length < 20) {
        failures.push(`#${i} ${target.name} ${mutation}: ${response.status} ${text.slice(0, 200)}`);
      }
    }
    const elapsedMs = performance.now() - startedAt;

    console.info(`[fuzz] ${ITERATIONS} requests in ${Math.round(elapsedMs)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
    expect(await storedCount()).toBe(baselineStored);
    expect(eventApi.events.length).toBe(baselineEvents);
  }, 180_000);

  test("an exact retry of an accepted delivery is acknowledged again but stored once", async () => {
    for (const target of targets) {
      const body = target.event(prng(2));
      const headers = { ...buildWebhookHeaders({ id: `msg_retry_${target.name}_${randomBytes(4).toString("hex")}`, body, secrets: [target.secret] }) };
      const before = await storedCount();
      for (let attempt = 0; attempt < 5; attempt++) {
        expect((await send(target, { body, headers })).status).toBe(200);
      }
      expect(await storedCount()).toBe(before + 1);
    }
  });
});
