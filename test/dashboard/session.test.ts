import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  createSessionCookie,
  endSession,
  isSessionValid,
  readSession,
  safeNextPath,
  SESSION_COOKIE_NAME,
  SESSION_LIFETIME_MS,
  shouldUseSecureCookie,
} from "@/lib/auth/session";
import { setDb } from "@/lib/db";
import { isAcceptedApiKey } from "@/lib/dashboard/sign-in";
import { createTestDatabase, type TestDatabase } from "../helpers/db";

const KEY = process.env.BATCHWATCH_API_KEY!;
const originalEnv = { keys: process.env.BATCHWATCH_API_KEY, secret: process.env.BATCHWATCH_SESSION_SECRET };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

let testDb: TestDatabase;
beforeAll(async () => {
  testDb = await createTestDatabase("pglite");
  setDb(testDb.db);
});
afterAll(async () => {
  setDb(undefined);
  await testDb.drop();
});

afterEach(() => {
  process.env.BATCHWATCH_API_KEY = originalEnv.keys;
  process.env.BATCHWATCH_SESSION_SECRET = originalEnv.secret;
});

async function cookieValue(now = T0): Promise<string> {
  return (await createSessionCookie({ apiKey: KEY, secure: true, now })).value;
}

describe("the session cookie", () => {
  test("is HTTP-only, SameSite=Lax, scoped to the whole site and expires with the session", async () => {
    const cookie = await createSessionCookie({ apiKey: KEY, secure: true, now: T0 });
    expect(cookie.name).toBe(SESSION_COOKIE_NAME);
    expect(cookie.options).toEqual({
      httpOnly: true,
      secure: true,
      sameSite: "lax",
      path: "/",
      expires: new Date(T0 + SESSION_LIFETIME_MS),
    });
  });

  test("is an opaque token; the database holds only its hash, never the token, the key or the secret", async () => {
    const { value } = await createSessionCookie({ apiKey: KEY, secure: true, now: T0 });
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(value).not.toContain(KEY);
    const rows = JSON.stringify(await testDb.db.query("SELECT * FROM sessions"));
    for (const text of [value, KEY, process.env.BATCHWATCH_SESSION_SECRET!]) expect(rows).not.toContain(text);
  });

  test("reads back as a session lasting 12 hours", async () => {
    expect(await readSession(await cookieValue(), T0 + 1000)).toEqual({ issuedAt: T0, expiresAt: T0 + 12 * 3_600_000 });
  });

  test("is refused once expired", async () => {
    const value = await cookieValue();
    expect(await readSession(value, T0 + SESSION_LIFETIME_MS - 1)).not.toBeNull();
    expect(await readSession(value, T0 + SESSION_LIFETIME_MS)).toBeNull();
  });

  test("is refused after sign-out, when replayed", async () => {
    const value = await cookieValue();
    expect(await readSession(value, T0 + 1000)).not.toBeNull();
    await endSession(value);
    expect(await readSession(value, T0 + 1000)).toBeNull();
  });

  test("is refused when forged, altered or truncated", async () => {
    const value = await cookieValue();
    const flipped = (value[0] === "A" ? "B" : "A") + value.slice(1);
    const forged = Buffer.alloc(32, 7).toString("base64url");
    for (const tampered of [forged, flipped, value.slice(0, -1), `${value}A`, "", "v1.e30.AAAA", "garbage\u0000"]) {
      expect(await readSession(tampered, T0 + 1000)).toBeNull();
    }
  });

  test("is refused after the session secret changes", async () => {
    const value = await cookieValue();
    process.env.BATCHWATCH_SESSION_SECRET = "another-session-secret-of-32-characters!!";
    expect(await readSession(value, T0 + 1000)).toBeNull();
  });

  test("is refused once the API key it was opened with is removed, accepted while it stays", async () => {
    process.env.BATCHWATCH_API_KEY = `old-key,${KEY}`;
    const value = (await createSessionCookie({ apiKey: "old-key", secure: true, now: T0 })).value;
    expect(await readSession(value, T0 + 1000)).not.toBeNull();
    process.env.BATCHWATCH_API_KEY = KEY;
    expect(await readSession(value, T0 + 1000)).toBeNull();
  });

  test("is refused when no session secret is configured", async () => {
    const value = await cookieValue();
    process.env.BATCHWATCH_SESSION_SECRET = "";
    expect(await readSession(value, T0 + 1000)).toBeNull();
    await expect(createSessionCookie({ apiKey: KEY, secure: true })).rejects.toThrow(/BATCHWATCH_SESSION_SECRET/);
  });
});

describe("a request's session", () => {
  const requestWith = (cookie?: string) =>
    new Request("http://localhost/api/batches", { headers: cookie ? { cookie } : {} });

  test("is valid with a fresh session cookie among others", async () => {
    const value = (await createSessionCookie({ apiKey: KEY, secure: false })).value;
    expect(await isSessionValid(requestWith(`theme=dark; ${SESSION_COOKIE_NAME}=${value}; other=1`))).toBe(true);
  });

  test("is invalid without the cookie or with a forged one", async () => {
    expect(await isSessionValid(requestWith())).toBe(false);
    expect(await isSessionValid(requestWith(`${SESSION_COOKIE_NAME}=${Buffer.alloc(32).toString("base64url")}`))).toBe(false);
  });

  test("is invalid when the cookie is only a prefix of another cookie's name", async () => {
    const value = (await createSessionCookie({ apiKey: KEY, secure: false })).value;
    expect(await isSessionValid(requestWith(`x${SESSION_COOKIE_NAME}=${value}`))).toBe(false);
  });
});

describe("signing in", () => {
  test("accepts each configured key and nothing else", () => {
    process.env.BATCHWATCH_API_KEY = "first-key, second-key";
    expect(isAcceptedApiKey("first-key")).toBe(true);
    expect(isAcceptedApiKey("second-key")).toBe(true);
    expect(isAcceptedApiKey("first-key, second-key")).toBe(false);
    expect(isAcceptedApiKey("")).toBe(false);
    process.env.BATCHWATCH_API_KEY = "";
    expect(isAcceptedApiKey("")).toBe(false);
  });

  test("sets a Secure cookie except over plain http to a loopback host", () => {
    expect(shouldUseSecureCookie({ protocol: "http", host: "localhost:3000" })).toBe(false);
    expect(shouldUseSecureCookie({ protocol: "http", host: "127.0.0.1:4123" })).toBe(false);
    expect(shouldUseSecureCookie({ protocol: "http", host: "[::1]:3000" })).toBe(false);
    expect(shouldUseSecureCookie({ protocol: "https", host: "localhost:3000" })).toBe(true);
    expect(shouldUseSecureCookie({ protocol: "https", host: "batchwatch.example.com" })).toBe(true);
    expect(shouldUseSecureCookie({ protocol: "http", host: "batchwatch.example.com" })).toBe(true);
    expect(shouldUseSecureCookie({ protocol: "http", host: "localhost.example.com" })).toBe(true);
  });

  test("returns only to paths on this site", () => {
    expect(safeNextPath("/batches/gemini/batches/123?kind=batch")).toBe("/batches/gemini/batches/123?kind=batch");
    expect(safeNextPath("/deliveries")).toBe("/deliveries");
    for (const hostile of ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "", undefined, 42]) {
      expect(safeNextPath(hostile)).toBe("/batches");
    }
    expect(safeNextPath("/sign-in?next=/sign-in")).toBe("/batches");
  });

  // What a browser would do with each: follow it off-site, or (newline) break the Location header.
  test.each([
    ["a tab after the slash", "/\t/evil.example"],
    ["a newline after the slash", "/\n/x"],
    ["a carriage return", "/\r/evil.example"],
    ["a NUL", "/\u0000/evil.example"],
    ["a space", "/ /evil.example"],
    ["a DEL", "/\u007f/evil.example"],
    ["a C1 control", "/\u0085/evil.example"],
    ["a no-break space", "/\u00a0/evil.example"],
    ["a backslash later on", "/batches\\..\\/evil.example"],
    ["a double slash later on", "/batches//evil.example"],
    ["a scheme-relative URL", "//evil.example"],
  ])("falls back to /batches for a next path with %s", (_what, next) => {
    expect(safeNextPath(next)).toBe("/batches");
  });
});
