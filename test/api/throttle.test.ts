import { describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import { AUTH_FAILURE_WINDOW_MS, authClient, authRetryAfterSeconds, recordAuthFailure } from "@/lib/auth/throttle";
import { withEnv } from "../helpers/env";
import { call, useApiHarness } from "../helpers/api";

const harness = useApiHarness();

const list = (key: string, headers: Record<string, string>) => call(batches.GET, "GET", "/api/batches", { key, headers });
const ATTACKER = { "x-forwarded-for": "203.0.113.7" };
const SOMEONE_ELSE = { "x-forwarded-for": "198.51.100.20" };
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe("failed authentication is throttled", () => {
  test("10 wrong keys are 401s; the 11th attempt, even with the right key, is 429 with Retry-After", async () => {
    for (let attempt = 1; attempt <= 10; attempt++) expect((await list("wrong-key", ATTACKER)).status).toBe(401);
    const refused = await list("wrong-key", ATTACKER);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe("rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(600);
    expect((await list(process.env.BATCHWATCH_API_KEY!, ATTACKER)).status).toBe(429);
  });

  test("a correct key from another client is unaffected", async () => {
    for (let attempt = 1; attempt <= 11; attempt++) await list("wrong-key", ATTACKER);
    expect((await list(process.env.BATCHWATCH_API_KEY!, SOMEONE_ELSE)).status).toBe(200);
  });

  test("failures older than 10 minutes no longer count, and Retry-After is when the oldest leaves the window", async () => {
    for (let minute = 0; minute < 10; minute++) await recordAuthFailure("client-a", T0 + minute * 60_000, harness.db);
    expect(await authRetryAfterSeconds("client-a", T0 + 9 * 60_000, harness.db)).toBe(60);
    expect(await authRetryAfterSeconds("client-a", T0 + AUTH_FAILURE_WINDOW_MS, harness.db)).toBeNull();
    expect(await authRetryAfterSeconds("client-b", T0 + 9 * 60_000, harness.db)).toBeNull();
  });
});

describe("the client an attempt comes from", () => {
  const headers = (values: Record<string, string>) => ({ headers: new Headers(values) });

  test.each([
    ["on Vercel: the platform's header, whatever X-Forwarded-For says", { VERCEL: "1" }, { "x-vercel-forwarded-for": "203.0.113.7", "x-forwarded-for": "1.1.1.1" }, "203.0.113.7"],
    ["on Vercel without it: X-Real-IP", { VERCEL: "1" }, { "x-real-ip": "203.0.113.8", "x-forwarded-for": "1.1.1.1" }, "203.0.113.8"],
    ["behind a trusted proxy: the last hop of X-Forwarded-For", { BATCHWATCH_TRUSTED_PROXY: "1" }, { "x-forwarded-for": "1.1.1.1, 203.0.113.9" }, "203.0.113.9"],
    ["served directly: the address Next puts in X-Forwarded-For", {}, { "x-forwarded-for": "203.0.113.10", "x-vercel-forwarded-for": "1.1.1.1" }, "203.0.113.10"],
  ])("%s", async (_name, env: Record<string, string>, values: Record<string, string>, expected) => {
    const onVercel = env.VERCEL ? { BATCHWATCH_API_KEY: "a-key-that-is-long-enough-for-vercel-0123", BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: undefined, INNGEST_DEV: undefined, DATABASE_URL: "postgres://127.0.0.1:1/unused" } : {};
    await withEnv({ VERCEL: undefined, VERCEL_ENV: undefined, BATCHWATCH_TRUSTED_PROXY: undefined, ...onVercel, ...env }, async () => {
      expect(authClient(headers(values))).toBe(expected);
    });
  });
});
