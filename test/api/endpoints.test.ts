import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as endpoints from "@/app/api/endpoints/route";
import * as endpoint from "@/app/api/endpoints/[id]/route";
import * as endpointTest from "@/app/api/endpoints/[id]/test/route";
import * as endpointDeliveries from "@/app/api/endpoints/[id]/deliveries/route";
import { decryptSecret } from "@/lib/security/secret-box";
import { generateWebhookSecret, verifyWebhook } from "@/lib/security/standard-webhooks";
import { withEnv } from "../helpers/env";
import { call, useApiHarness } from "../helpers/api";

const harness = useApiHarness();

const RECEIVER = "http://127.0.0.1:9/hooks";
const MISSING_ID = "3f1c2a4e-8b6d-4c1e-9a2f-7d5e6b4c3a21";

const create = (body: unknown) => call(endpoints.POST, "POST", "/api/endpoints", { body });
const patch = (id: string, body: unknown) => call(endpoint.PATCH, "PATCH", `/api/endpoints/${id}`, { body, params: { id } });

async function storedSecrets(id: string) {
  const [row] = await harness.db.query<{
    secret_encrypted: string;
    previous_secret_encrypted: string | null;
    previous_secret_expires_at: Date | null;
  }>("SELECT secret_encrypted, previous_secret_encrypted, previous_secret_expires_at FROM endpoints WHERE id = $1", [id]);
  return row!;
}

describe("POST /api/endpoints", () => {
  test("creates an endpoint: 201 with a generated secret, shown once and stored encrypted", async () => {
    const response = await create({ name: "ops", url: RECEIVER });
    expect(response.status).toBe(201);
    expect(response.json.endpoint).toMatchObject({ name: "ops", url: RECEIVER, disabled: false, previousSecretExpiresAt: null });
    expect(response.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const stored = await storedSecrets(response.json.endpoint.id);
    expect(stored.secret_encrypted).not.toContain(response.json.secret.slice(6));
    expect(decryptSecret(stored.secret_encrypted)).toBe(response.json.secret);
  });

  test("keeps a secret the caller gives", async () => {
    const secret = generateWebhookSecret();
    const response = await create({ name: "ops", url: RECEIVER, secret });
    expect(response.json.secret).toBe(secret);
    expect(decryptSecret((await storedSecrets(response.json.endpoint.id)).secret_encrypted)).toBe(secret);
  });

  test("a name already taken is 409 conflict", async () => {
    expect((await create({ name: "ops", url: RECEIVER })).status).toBe(201);
    const again = await create({ name: "ops", url: `${RECEIVER}/2` });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("conflict");
  });

  test.each([
    ["a missing name", { url: RECEIVER }, "invalid_request", "name"],
    ["a name with spaces", { name: "my ops", url: RECEIVER }, "invalid_request", "name"],
    ["a secret without the whsec_ prefix", { name: "ops", url: RECEIVER, secret: Buffer.alloc(32).toString("base64") }, "invalid_request", "secret"],
    ["a secret shorter than 24 bytes", { name: "ops", url: RECEIVER, secret: `whsec_${Buffer.alloc(16, 1).toString("base64")}` }, "invalid_request", "secret"],
    ["a secret that is not base64", { name: "ops", url: RECEIVER, secret: "whsec_not base64!" }, "invalid_request", "secret"],
    ["a javascript: URL", { name: "ops", url: "javascript:alert(1)" }, "unsafe_webhook_url", "scheme"],
    ["a URL with credentials", { name: "ops", url: "https://a:b@example.com/" }, "unsafe_webhook_url", "credentials"],
  ])("%s → 400 %s", async (_name, body, code, mentions) => {
    const response = await create(body);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe(code);
    expect(response.json.error.message).toContain(mentions);
  });

  test("a private address is refused unless private webhooks are allowed", async () => {
    await withEnv({ BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: undefined }, async () => {
      const response = await create({ name: "ops", url: "https://10.0.0.1/hook" });
      expect(response.json.error.code).toBe("unsafe_webhook_url");
    });
  });
});

describe("GET /api/endpoints", () => {
  test("lists endpoints by name and never a secret", async () => {
    const { json } = await create({ name: "zeta", url: RECEIVER });
    await create({ name: "alpha", url: RECEIVER });
    await patch(json.endpoint.id, { rotateSecret: true });
    const response = await call(endpoints.GET, "GET", "/api/endpoints");
    expect(response.status).toBe(200);
    expect(response.json.endpoints.map((each: { name: string }) => each.name)).toEqual(["alpha", "zeta"]);
    expect(response.text).not.toMatch(/whsec_|secret_encrypted|"secret"|v1\./);
  });
});

describe("PATCH /api/endpoints/{id}", () => {
  test("rotating the secret shows the new one once and keeps the old one valid for 24 hours", async () => {
    const created = await create({ name: "ops", url: RECEIVER });
    const id = created.json.endpoint.id;
    const before = await storedSecrets(id);
    const response = await patch(id, { rotateSecret: true });
    expect(response.status).toBe(200);
    expect(response.json.secret).toMatch(/^whsec_/);
    expect(response.json.secret).not.toBe(created.json.secret);

    const after = await storedSecrets(id);
    expect(decryptSecret(after.secret_encrypted)).toBe(response.json.secret);
    expect(after.previous_secret_encrypted).toBe(before.secret_encrypted);
    const hoursLeft = (after.previous_secret_expires_at!.getTime() - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(23.9);
    expect(hoursLeft).toBeLessThanOrEqual(24);
    expect(Date.parse(response.json.endpoint.previousSecretExpiresAt)).toBe(after.previous_secret_expires_at!.getTime());
  });

  test("changes the URL, and disables and re-enables (clearing the failure streak)", async () => {
    const id = (await create({ name: "ops", url: RECEIVER })).json.endpoint.id;
    expect((await patch(id, { url: `${RECEIVER}/v2` })).json.endpoint.url).toBe(`${RECEIVER}/v2`);
    const disabled = await patch(id, { disabled: true });
    expect(disabled.json.endpoint).toMatchObject({ disabled: true, disabledReason: "disabled by API" });
    expect(disabled.json.secret).toBeUndefined();
    await harness.db.query("UPDATE endpoints SET consecutive_failures = 9, first_failure_at = now() WHERE id = $1", [id]);
    const enabled = await patch(id, { disabled: false });
    expect(enabled.json.endpoint).toMatchObject({ disabled: false, disabledAt: null, consecutiveFailures: 0, firstFailureAt: null });
  });

  test.each([
    ["an empty change", {}, 400, "invalid_request"],
    ["rotateSecret: false", { rotateSecret: false }, 400, "invalid_request"],
    ["an unknown field", { name: "renamed" }, 400, "invalid_request"],
    ["an unsafe URL", { url: "file:///etc/passwd" }, 400, "unsafe_webhook_url"],
  ])("%s → $2 $3", async (_name, body, status, code) => {
    const id = (await create({ name: "ops", url: RECEIVER })).json.endpoint.id;
    const response = await patch(id, body);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });

  test.each([
    ["an endpoint that does not exist", MISSING_ID, 404, "not_found"],
    ["an id that is not a UUID", "ops", 400, "invalid_request"],
  ])("%s → $2 $3", async (_name, id, status, code) => {
    const response = await patch(id, { disabled: true });
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });
});

describe("DELETE /api/endpoints/{id}", () => {
  test("deletes: 204, then the endpoint is not found", async () => {
    const id = (await create({ name: "ops", url: RECEIVER })).json.endpoint.id;
    const response = await call(endpoint.DELETE, "DELETE", `/api/endpoints/${id}`, { params: { id } });
    expect(response.status).toBe(204);
    expect(response.text).toBe("");
    const again = await call(endpoint.GET, "GET", `/api/endpoints/${id}`, { params: { id } });
    expect(again.status).toBe(404);
    expect((await call(endpoint.DELETE, "DELETE", `/api/endpoints/${id}`, { params: { id } })).status).toBe(404);
  });
});

describe("POST /api/endpoints/{id}/test", () => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  let receiverUrl = "";
  const receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body });
      response.writeHead(200).end("ok");
    });
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  test("sends one signed webhook.test event now and reports the receiver's answer", async () => {
    const created = await create({ name: "ops", url: receiverUrl });
    const id = created.json.endpoint.id;
    const response = await call(endpointTest.POST, "POST", `/api/endpoints/${id}/test`, { params: { id } });
    expect(response.status).toBe(200);
    expect(response.json.attempt).toMatchObject({ ok: true, statusCode: 200, error: null });
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(JSON.parse(delivery!.body)).toMatchObject({ type: "webhook.test" });
    expect(() =>
      verifyWebhook({ headers: delivery!.headers as Record<string, string>, body: delivery!.body, secrets: [created.json.secret] }),
    ).not.toThrow();
  });

  test("an endpoint that does not exist is 404", async () => {
    const response = await call(endpointTest.POST, "POST", `/api/endpoints/${MISSING_ID}/test`, { params: { id: MISSING_ID } });
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe("not_found");
  });
});

describe("GET /api/endpoints/{id}/deliveries", () => {
  const list = (id: string, query = "") =>
    call(endpointDeliveries.GET, "GET", `/api/endpoints/${id}/deliveries${query}`, { params: { id } });

  async function insertDeliveries(endpointId: string, statuses: string[]) {
    for (const [index, status] of statuses.entries()) {
      await harness.db.query(
        `INSERT INTO deliveries (id, endpoint_id, event_type, payload, status, created_at)
         VALUES ($1, $2, 'batch.completed', '{}', $3, $4)`,
        [`msg_${index}`, endpointId, status, new Date(Date.UTC(2026, 0, 1, 0, index))],
      );
    }
  }

  test("pages through the endpoint's deliveries, newest first, with its success rate", async () => {
    const id = (await create({ name: "ops", url: RECEIVER })).json.endpoint.id;
    await insertDeliveries(id, ["delivered", "failed", "delivered", "delivered", "pending"]);
    const first = await list(id, "?limit=3");
    expect(first.status).toBe(200);
    expect(first.json.deliveries.map((delivery: { id: string }) => delivery.id)).toEqual(["msg_4", "msg_3", "msg_2"]);
    expect(first.json.stats).toEqual({ window: 5, delivered: 3, failed: 1, pending: 1, successRate: 0.75 });
    const second = await list(id, `?limit=3&cursor=${first.json.nextCursor}`);
    expect(second.json.deliveries.map((delivery: { id: string }) => delivery.id)).toEqual(["msg_1", "msg_0"]);
    expect(second.json.nextCursor).toBeNull();
  });

  test("an endpoint without deliveries has no success rate yet", async () => {
    const id = (await create({ name: "ops", url: RECEIVER })).json.endpoint.id;
    expect((await list(id)).json).toEqual({
      deliveries: [],
      nextCursor: null,
      stats: { window: 0, delivered: 0, failed: 0, pending: 0, successRate: null },
    });
  });

  test.each([
    ["an endpoint that does not exist", MISSING_ID, "", 404, "not_found"],
    ["an id that is not a UUID", "ep_1", "", 400, "invalid_request"],
    ["a cursor that is not ours", MISSING_ID, "?cursor=abc", 400, "invalid_request"],
    ["a limit over 100", MISSING_ID, "?limit=101", 400, "invalid_request"],
  ])("%s → $3 $4", async (_name, id, query, status, code) => {
    const response = await list(id, query);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });
});
