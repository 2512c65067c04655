import { createHmac } from "node:crypto";

import { Webhook } from "standardwebhooks";
import { describe, expect, test } from "vitest";

import {
  buildWebhookHeaders,
  decodeSecret,
  generateWebhookSecret,
  signPayload,
  verifyWebhook,
  WebhookVerificationError,
} from "@/lib/security/standard-webhooks";

// The test vector published with the Standard Webhooks specification and its libraries.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const VECTOR_TIME = new Date(VECTOR.timestamp * 1000);
const OTHER_SECRET = "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==";

function vectorHeaders(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    "webhook-id": VECTOR.id,
    "webhook-timestamp": String(VECTOR.timestamp),
    "webhook-signature": VECTOR.signature,
    ...overrides,
  };
}

function failureOf(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return error as WebhookVerificationError;
  }
  throw new Error("expected verification to fail");
}

describe("signing", () => {
  test("reproduces the Standard Webhooks published signature", () => {
    expect(signPayload({ ...VECTOR, secrets: [VECTOR.secret] })).toBe(VECTOR.signature);
  });

  test("accepts the secret without its whsec_ prefix", () => {
    expect(signPayload({ ...VECTOR, secrets: [VECTOR.secret.slice("whsec_".length)] })).toBe(VECTOR.signature);
  });

  test("emits one space-separated signature per secret, in order, during a rotation", () => {
    const header = signPayload({ ...VECTOR, secrets: [VECTOR.secret, OTHER_SECRET] });
    const [first, second, ...rest] = header.split(" ");
    expect(first).toBe(VECTOR.signature);
    expect(second).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(second).not.toBe(first);
    expect(rest).toEqual([]);
  });

  test("builds the four delivery headers at the given time", () => {
    const headers = buildWebhookHeaders({ id: VECTOR.id, body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME });
    expect(headers).toEqual({
      "webhook-id": VECTOR.id,
      "webhook-timestamp": String(VECTOR.timestamp),
      "webhook-signature": VECTOR.signature,
      "content-type": "application/json",
    });
  });

  test("generates whsec_ secrets of 32 random bytes that sign", () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(decodeSecret(secret)).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
    expect(signPayload({ ...VECTOR, secrets: [secret] })).toMatch(/^v1,/);
  });

  test.each([
    ["not base64", "whsec_s3cr3t-material!"],
    ["empty", "whsec_"],
    ["no secret at all", undefined],
  ])("refuses a secret that is %s, without echoing it", (_, secret) => {
    const secrets = secret === undefined ? [] : [secret];
    expect(() => signPayload({ ...VECTOR, secrets })).toThrow(TypeError);
    expect(() => signPayload({ ...VECTOR, secrets })).not.toThrow(/s3cr3t/);
  });

  test("matches a plain node:crypto HMAC of id.timestamp.body for any body", () => {
    const body = JSON.stringify({ text: "héllo ✓ 🎉", nested: { n: 1 } });
    const key = Buffer.from(VECTOR.secret.slice(6), "base64");
    const expected = createHmac("sha256", key).update(`msg_1.1700000000.${body}`).digest("base64");
    expect(signPayload({ id: "msg_1", timestamp: 1700000000, body, secrets: [VECTOR.secret] })).toBe(`v1,${expected}`);
  });
});

describe("verification", () => {
  test("accepts the published test vector", () => {
    expect(verifyWebhook({ headers: vectorHeaders(), body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME })).toEqual({
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
    });
  });

  test("reads headers from a Fetch Headers object and from any letter case", () => {
    const fetchHeaders = new Headers(vectorHeaders());
    expect(() => verifyWebhook({ headers: fetchHeaders, body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME })).not.toThrow();
    const shouting = Object.fromEntries(Object.entries(vectorHeaders()).map(([name, value]) => [name.toUpperCase(), value]));
    expect(() => verifyWebhook({ headers: shouting, body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME })).not.toThrow();
  });

  test.each([
    ["a signature among others of unknown versions", `v1a,abc v2,xyz ${VECTOR.signature}`],
    ["the second of two v1 signatures", `v1,${Buffer.alloc(32).toString("base64")} ${VECTOR.signature}`],
  ])("accepts %s", (_, signatureHeader) => {
    const headers = vectorHeaders({ "webhook-signature": signatureHeader });
    expect(() => verifyWebhook({ headers, body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME })).not.toThrow();
  });

  test.each([
    ["the old secret listed first", [VECTOR.secret, OTHER_SECRET]],
    ["the new secret listed first", [OTHER_SECRET, VECTOR.secret]],
  ])("during a rotation accepts a delivery signed by one of two secrets (%s)", (_, secrets) => {
    expect(() => verifyWebhook({ headers: vectorHeaders(), body: VECTOR.body, secrets, now: VECTOR_TIME })).not.toThrow();
  });

  test("accepts a delivery signed with both secrets by a sender mid-rotation", () => {
    const body = '{"type":"batch.completed"}';
    const headers = buildWebhookHeaders({ id: "msg_rot", body, secrets: [OTHER_SECRET, VECTOR.secret] });
    expect(() => verifyWebhook({ headers, body, secrets: [VECTOR.secret] })).not.toThrow();
    expect(() => verifyWebhook({ headers, body, secrets: [OTHER_SECRET] })).not.toThrow();
  });

  test.each([
    ["a tampered body", { body: '{"test": 2432232315}' }, "no_matching_signature"],
    ["a body with added whitespace", { body: '{"test":  2432232314}' }, "no_matching_signature"],
    ["a tampered id", { headers: vectorHeaders({ "webhook-id": "msg_other" }) }, "no_matching_signature"],
    ["a tampered timestamp", { headers: vectorHeaders({ "webhook-timestamp": String(VECTOR.timestamp + 1) }) }, "no_matching_signature"],
    ["a wrong secret", { secrets: [OTHER_SECRET] }, "no_matching_signature"],
    ["a truncated signature", { headers: vectorHeaders({ "webhook-signature": VECTOR.signature.slice(0, 20) }) }, "no_matching_signature"],
    ["the right signature under another version", { headers: vectorHeaders({ "webhook-signature": VECTOR.signature.replace("v1,", "v2,") }) }, "no_matching_signature"],
    ["an empty signature header", { headers: vectorHeaders({ "webhook-signature": "" }) }, "missing_headers"],
    ["no webhook-id", { headers: { "webhook-timestamp": String(VECTOR.timestamp), "webhook-signature": VECTOR.signature } }, "missing_headers"],
    ["a timestamp that is not a number", { headers: vectorHeaders({ "webhook-timestamp": "1614265330abc" }) }, "invalid_timestamp"],
    ["a timestamp in milliseconds", { headers: vectorHeaders({ "webhook-timestamp": String(VECTOR.timestamp * 1000) }) }, "future_timestamp"],
    ["a stale timestamp (301 s old)", { now: new Date((VECTOR.timestamp + 301) * 1000) }, "stale_timestamp"],
    ["a future timestamp (301 s ahead)", { now: new Date((VECTOR.timestamp - 301) * 1000) }, "future_timestamp"],
    ["a stale timestamp under a custom tolerance", { now: new Date((VECTOR.timestamp + 61) * 1000), toleranceSeconds: 60 }, "stale_timestamp"],
  ] as const)("refuses %s", (_, overrides, code) => {
    const error = failureOf(() =>
      verifyWebhook({ headers: vectorHeaders(), body: VECTOR.body, secrets: [VECTOR.secret], now: VECTOR_TIME, ...overrides }),
    );
    expect(error.code).toBe(code);
    expect(error.message).not.toContain(VECTOR.secret.slice(6));
  });

  test.each([
    ["300 s old", 300],
    ["300 s ahead", -300],
  ])("accepts a timestamp exactly at the tolerance edge (%s)", (_, age) => {
    const now = new Date((VECTOR.timestamp + age) * 1000);
    expect(() => verifyWebhook({ headers: vectorHeaders(), body: VECTOR.body, secrets: [VECTOR.secret], now })).not.toThrow();
  });
});

describe("interoperability with the standardwebhooks library", () => {
  const body = JSON.stringify({ type: "batch.completed", id: "batch_1", note: "ünïcödé" });

  test.each([
    ["one secret", [VECTOR.secret]],
    ["two secrets (rotation)", [OTHER_SECRET, VECTOR.secret]],
  ])("its Webhook class verifies what we sign with %s", (_, secrets) => {
    const headers = buildWebhookHeaders({ id: "msg_interop_1", body, secrets });
    expect(new Webhook(VECTOR.secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  test("its Webhook class refuses what we signed once the body is altered", () => {
    const headers = buildWebhookHeaders({ id: "msg_interop_2", body, secrets: [VECTOR.secret] });
    expect(() => new Webhook(VECTOR.secret).verify(`${body} `, headers)).toThrow();
  });

  test("we verify what its Webhook class signs", () => {
    const now = new Date();
    const signature = new Webhook(VECTOR.secret).sign("msg_interop_3", now, body);
    const headers = {
      "webhook-id": "msg_interop_3",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signature,
    };
    expect(verifyWebhook({ headers, body, secrets: [VECTOR.secret], now })).toMatchObject({ id: "msg_interop_3" });
    expect(() => verifyWebhook({ headers, body, secrets: [OTHER_SECRET], now })).toThrow(WebhookVerificationError);
  });

  test("both agree on the published vector", () => {
    expect(new Webhook(VECTOR.secret).sign(VECTOR.id, VECTOR_TIME, VECTOR.body)).toBe(
      signPayload({ ...VECTOR, secrets: [VECTOR.secret] }),
    );
  });
});
