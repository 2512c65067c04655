import { afterEach, describe, expect, test } from "vitest";
import {
  createSessionCookie,
  isSessionValid,
  readSession,
  safeNextPath,
  SESSION_COOKIE_NAME,
  SESSION_LIFETIME_MS,
  shouldUseSecureCookie,
} from "@/lib/auth/session";
import { isAcceptedApiKey } from "@/lib/dashboard/sign-in";

const KEY = process.env.BATCHWATCH_API_KEY!;
const originalEnv = { keys: process.env.BATCHWATCH_API_KEY, secret: process.env.BATCHWATCH_SESSION_SECRET };
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

afterEach(() => {
  process.env.BATCHWATCH_API_KEY = originalEnv.keys;
  process.env.BATCHWATCH_SESSION_SECRET = originalEnv.secret;
});

function cookieValue(now = T0): string {
  return createSessionCookie({ apiKey: KEY, secure: true, now }).value;
}

function withPayload(value: string, edit: (payload: Record<string, unknown>) => void): string {
  const [version, payload, signature] = value.split(".");
  const decoded = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8"));
  edit(decoded);
  return [version, Buffer.from(JSON.stringify(decoded)).toString("base64url"), signature].join(".");
}

describe("the session cookie", () => {
  test("is HTTP-only, SameSite=Lax, scoped to the whole site and expires with the session", () => {
    const cookie = createSessionCookie({ apiKey: KEY, secure: true, now: T0 });
    expect(cookie.name).toBe(SESSION_COOKIE_NAME);
    expect(cookie.options).toEqual({
      httpOnly: true,
      secure: true,
      sameSite: "lax",
      path: "/",
      expires: new Date(T0 + SESSION_LIFETIME_MS),
    });
  });

  test("never contains the API key or the session secret", () => {
    const { value } = createSessionCookie({ apiKey: KEY, secure: true, now: T0 });
    const decoded = Buffer.from(value.split(".")[1]!, "base64url").toString("utf8");
    for (const text of [value, decoded]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(process.env.BATCHWATCH_SESSION_SECRET!);
    }
  });

  test("reads back as a session lasting 12 hours", () => {
    expect(readSession(cookieValue(), T0 + 1000)).toEqual({ issuedAt: T0, expiresAt: T0 + 12 * 3_600_000 });
  });

  test("is refused once expired", () => {
    expect(readSession(cookieValue(), T0 + SESSION_LIFETIME_MS - 1)).not.toBeNull();
    expect(readSession(cookieValue(), T0 + SESSION_LIFETIME_MS)).toBeNull();
  });

  test("is refused when its payload is edited, even to extend it", () => {
    const extended = withPayload(cookieValue(), (payload) => {
      payload.exp = T0 + 365 * 24 * 3_600_000;
    });
    expect(readSession(extended, T0 + 1000)).toBeNull();
  });

  test("is refused when its signature is altered, truncated or missing", () => {
    const value = cookieValue();
    // Flip the signature's first character: its last one carries padding bits that decoding ignores.
    const at = value.lastIndexOf(".") + 1;
    const flipped = value.slice(0, at) + (value[at] === "A" ? "B" : "A") + value.slice(at + 1);
    for (const tampered of [flipped, value.slice(0, -5), value.split(".").slice(0, 2).join("."), `${value}.extra`, "", "v1..", "garbage"]) {
      expect(readSession(tampered, T0 + 1000)).toBeNull();
    }
  });

  test("is refused after the session secret changes", () => {
    const value = cookieValue();
    process.env.BATCHWATCH_SESSION_SECRET = "another-session-secret-of-32-characters!!";
    expect(readSession(value, T0 + 1000)).toBeNull();
  });

  test("is refused once the API key it was opened with is removed, accepted while it stays", () => {
    process.env.BATCHWATCH_API_KEY = `old-key,${KEY}`;
    const value = createSessionCookie({ apiKey: "old-key", secure: true, now: T0 }).value;
    expect(readSession(value, T0 + 1000)).not.toBeNull();
    process.env.BATCHWATCH_API_KEY = KEY;
    expect(readSession(value, T0 + 1000)).toBeNull();
  });

  test("is refused when no session secret is configured", () => {
    const value = cookieValue();
    process.env.BATCHWATCH_SESSION_SECRET = "";
    expect(readSession(value, T0 + 1000)).toBeNull();
    expect(() => createSessionCookie({ apiKey: KEY, secure: true })).toThrow(/BATCHWATCH_SESSION_SECRET/);
  });
});

describe("a request's session", () => {
  const requestWith = (cookie?: string) =>
    new Request("http://localhost/api/batches", { headers: cookie ? { cookie } : {} });

  test("is valid with a fresh session cookie among others", () => {
    const value = createSessionCookie({ apiKey: KEY, secure: false }).value;
    expect(isSessionValid(requestWith(`theme=dark; ${SESSION_COOKIE_NAME}=${value}; other=1`))).toBe(true);
  });

  test("is invalid without the cookie or with a forged one", () => {
    expect(isSessionValid(requestWith())).toBe(false);
    expect(isSessionValid(requestWith(`${SESSION_COOKIE_NAME}=v1.e30.AAAA`))).toBe(false);
  });

  test("is invalid when the cookie is only a prefix of another cookie's name", () => {
    const value = createSessionCookie({ apiKey: KEY, secure: false }).value;
    expect(isSessionValid(requestWith(`x${SESSION_COOKIE_NAME}=${value}`))).toBe(false);
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
