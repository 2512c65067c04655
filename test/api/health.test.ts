import { describe, expect, test } from "vitest";
import * as health from "@/app/api/health/route";
import { createSessionCookie } from "@/lib/auth/session";
import { call, useApiHarness } from "../helpers/api";

useApiHarness();

describe("GET /api/health", () => {
  test("tells the public only that the app is up", async () => {
    const response = await call(health.GET, "GET", "/api/health", { key: null });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ ok: true });
  });

  test("a wrong key gets no more than the public", async () => {
    const response = await call(health.GET, "GET", "/api/health", { key: "not-the-key" });
    expect(response.json).toEqual({ ok: true });
  });

  test.each([
    ["an API key", {}],
    ["a dashboard session", { key: null, headers: { cookie: "SESSION" } }],
  ])("shows which keys, flags and database are set to a caller with %s", async (_name, options: { key?: null; headers?: Record<string, string> }) => {
    const cookie = await createSessionCookie({ apiKey: "test-api-key", secure: false });
    const headers = options.headers ? { cookie: `${cookie.name}=${cookie.value}` } : undefined;
    const response = await call(health.GET, "GET", "/api/health", { ...options, headers });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      ok: true,
      database: { ok: true },
      inngest: { mode: "dev" },
      webhooks: { defaultSecretSet: true },
      apiKeySet: true,
    });
  });
});
