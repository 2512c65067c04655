import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { inngestServeOrigin } from "@/lib/ops/serve-origin";
import { withEnv } from "../helpers/env";

/**
 * The registration hijack: in cloud mode, an unauthenticated `PUT /api/inngest` with
 * `Host: attacker.example` must never make the app register itself at the attacker's host.
 * The route module is loaded fresh for each environment (the SDK reads it at construction), against
 * a stand-in Inngest API that records what would have been registered.
 */

let inngestApi: Server;
let apiUrl: string;
const registered: string[] = [];

beforeAll(async () => {
  inngestApi = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (request.url?.startsWith("/fn/register")) registered.push(JSON.parse(body).url);
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, modified: true }));
    });
  });
  await new Promise<void>((resolve) => inngestApi.listen(0, "127.0.0.1", resolve));
  apiUrl = `http://127.0.0.1:${(inngestApi.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => inngestApi.close(() => resolve())));
beforeEach(() => {
  registered.length = 0;
});

const CLOUD = {
  INNGEST_DEV: undefined,
  INNGEST_SIGNING_KEY: "signkey-test-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  INNGEST_EVENT_KEY: "test-event-key",
  INNGEST_SERVE_ORIGIN: undefined,
  VERCEL: undefined,
  VERCEL_ENV: undefined,
};

async function putAsAttacker(env: Record<string, string | undefined>) {
  return withEnv({ ...CLOUD, INNGEST_BASE_URL: apiUrl, INNGEST_API_BASE_URL: apiUrl, ...env }, async () => {
    vi.resetModules();
    const route = await import("@/app/api/inngest/route");
    const request = new Request("http://localhost:3000/api/inngest", { method: "PUT", headers: { host: "attacker.example" } });
    const response = await (route.PUT as (request: Request, context: unknown) => Promise<Response>)(request, { params: Promise.resolve({}) });
    return { status: response.status, json: await response.json().catch(() => undefined) };
  });
}

describe("PUT /api/inngest in cloud mode", () => {
  test("without a serve origin, an unsigned registration is refused, saying what to set, and nothing is registered", async () => {
    const response = await putAsAttacker({});
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe("not_configured");
    expect(response.json.error.message).toMatch(/INNGEST_SERVE_ORIGIN/);
    expect(registered).toEqual([]);
  });

  test.each([
    ["INNGEST_SERVE_ORIGIN", { INNGEST_SERVE_ORIGIN: "https://bw.example.com" }, "https://bw.example.com/api/inngest"],
    ["Vercel's production URL", { VERCEL: "1", VERCEL_ENV: "production", VERCEL_PROJECT_PRODUCTION_URL: "bw.vercel.app", VERCEL_URL: "bw-abc123.vercel.app", DATABASE_URL: "postgres://h/db", BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: undefined, BATCHWATCH_API_KEY: "a-key-that-is-long-enough-for-vercel-0123" }, "https://bw.vercel.app/api/inngest"],
  ])("with %s, the app registers there whatever Host the request names", async (_name, env, expected) => {
    const response = await putAsAttacker(env);
    expect(response.status).toBe(200);
    expect(registered).toEqual([expected]);
  });
});

describe("the serve origin", () => {
  test.each([
    [{}, undefined],
    [{ INNGEST_SERVE_ORIGIN: " https://bw.example.com " }, "https://bw.example.com"],
    [{ VERCEL: "1", VERCEL_ENV: "preview", VERCEL_BRANCH_URL: "bw-git-x.vercel.app", VERCEL_URL: "bw-1.vercel.app" }, "https://bw-git-x.vercel.app"],
    [{ VERCEL: "1", VERCEL_ENV: "preview", VERCEL_URL: "bw-1.vercel.app" }, "https://bw-1.vercel.app"],
    [{ VERCEL: "1" }, undefined],
  ])("for %j is %s", (env, expected) => {
    expect(inngestServeOrigin(env as NodeJS.ProcessEnv)).toBe(expected);
  });
});
