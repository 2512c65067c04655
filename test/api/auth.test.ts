import { NextRequest } from "next/server";
import { unstable_doesMiddlewareMatch, unstable_getResponseFromNextConfig } from "next/experimental/testing/server";
import nextConfig from "@/next.config";
import { afterEach, describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as batch from "@/app/api/batches/[provider]/[...batchId]/route";
import * as recover from "@/app/api/deliveries/recover/route";
import * as resend from "@/app/api/deliveries/[id]/resend/route";
import * as endpoints from "@/app/api/endpoints/route";
import * as endpoint from "@/app/api/endpoints/[id]/route";
import * as endpointTest from "@/app/api/endpoints/[id]/test/route";
import * as subscription from "@/app/api/subscriptions/[id]/route";
import { isValidApiKey, requiresApiAuth, setSessionValidator } from "@/lib/auth/api-key";
import { createSessionCookie, isSessionValid as isDashboardSessionValid } from "@/lib/auth/session";
import { config as proxyConfig, proxy } from "@/proxy";
import { withEnv } from "../helpers/env";
import { call, useApiHarness } from "../helpers/api";

useApiHarness();

const SOME_UUID = "3f1c2a4e-8b6d-4c1e-9a2f-7d5e6b4c3a21";

interface PrivateRoute {
  name: string;
  handler: unknown;
  method: string;
  path: string;
  params?: Record<string, string | string[]>;
  body?: unknown;
}

/** Every route that needs an API key, with params that reach its handler. */
const PRIVATE_ROUTES: PrivateRoute[] = [
  { name: "POST /api/batches", handler: batches.POST, method: "POST", path: "/api/batches", body: {} },
  { name: "GET /api/batches", handler: batches.GET, method: "GET", path: "/api/batches" },
  {
    name: "GET /api/batches/{provider}/{batchId}",
    handler: batch.GET,
    method: "GET",
    path: "/api/batches/simulated/sim_1s_completed",
    params: { provider: "simulated", batchId: ["sim_1s_completed"] },
  },
  {
    name: "GET /api/batches/{provider}/{batchId}/results",
    handler: batch.GET,
    method: "GET",
    path: "/api/batches/gemini/batches/123/results",
    params: { provider: "gemini", batchId: ["batches", "123", "results"] },
  },
  {
    name: "DELETE /api/subscriptions/{id}",
    handler: subscription.DELETE,
    method: "DELETE",
    path: `/api/subscriptions/${SOME_UUID}`,
    params: { id: SOME_UUID },
  },
  {
    name: "POST /api/deliveries/{id}/resend",
    handler: resend.POST,
    method: "POST",
    path: "/api/deliveries/dlv_1/resend",
    params: { id: "dlv_1" },
  },
  { name: "POST /api/deliveries/recover", handler: recover.POST, method: "POST", path: "/api/deliveries/recover", body: {} },
  { name: "POST /api/endpoints", handler: endpoints.POST, method: "POST", path: "/api/endpoints", body: {} },
  { name: "GET /api/endpoints", handler: endpoints.GET, method: "GET", path: "/api/endpoints" },
  ...(["GET", "PATCH", "DELETE"] as const).map((method) => ({
    name: `${method} /api/endpoints/{id}`,
    handler: endpoint[method],
    method,
    path: `/api/endpoints/${SOME_UUID}`,
    params: { id: SOME_UUID },
    ...(method === "PATCH" ? { body: {} } : {}),
  })),
  {
    name: "POST /api/endpoints/{id}/test",
    handler: endpointTest.POST,
    method: "POST",
    path: `/api/endpoints/${SOME_UUID}/test`,
    params: { id: SOME_UUID },
  },
];

describe("every private route refuses a request without a valid API key", () => {
  test.each(PRIVATE_ROUTES)("$name without an Authorization header is 401 unauthorized", async (route) => {
    const response = await call(route.handler, route.method, route.path, { ...route, key: null });
    expect(response.status).toBe(401);
    expect(response.json.error.code).toBe("unauthorized");
  });

  test.each(PRIVATE_ROUTES)("$name with a wrong key is 401 unauthorized", async (route) => {
    const response = await call(route.handler, route.method, route.path, { ...route, key: "test-api-keyX" });
    expect(response.status).toBe(401);
    expect(response.json.error).toEqual({ code: "unauthorized", message: "invalid API key" });
  });

  test.each(PRIVATE_ROUTES)("$name with the key in a Basic header is 401 unauthorized", async (route) => {
    const response = await call(route.handler, route.method, route.path, {
      ...route,
      headers: { authorization: `Basic ${Buffer.from("user:test-api-key").toString("base64")}` },
    });
    expect(response.status).toBe(401);
  });

  test.each(PRIVATE_ROUTES)("$name with a valid key reaches the handler", async (route) => {
    const response = await call(route.handler, route.method, route.path, route);
    expect(response.status).not.toBe(401);
    expect(response.status).toBeLessThan(500);
  });

  test.each(PRIVATE_ROUTES)("$name with BATCHWATCH_API_KEY unset is 401 and says to set it", async (route) => {
    await withEnv({ BATCHWATCH_API_KEY: undefined }, async () => {
      const response = await call(route.handler, route.method, route.path, route);
      expect(response.status).toBe(401);
      expect(response.json.error.code).toBe("unauthorized");
      expect(response.json.error.message).toContain("BATCHWATCH_API_KEY is not set");
    });
  });
});

describe("API keys", () => {
  test.each([
    ["the only key", "test-api-key", ["test-api-key"], true],
    ["the second of several keys", "new-key", ["old-key", "new-key"], true],
    ["a prefix of a key", "test-api", ["test-api-key"], false],
    ["a key with a suffix", "test-api-key-2", ["test-api-key"], false],
    ["any key when none is configured", "test-api-key", [], false],
    ["an empty key", "", ["test-api-key"], false],
  ])("%s: %s → %s", (_name, presented, keys, expected) => {
    expect(isValidApiKey(presented, keys)).toBe(expected);
  });

  test("any key of a comma-separated BATCHWATCH_API_KEY is accepted", async () => {
    await withEnv({ BATCHWATCH_API_KEY: "first-key, second-key" }, async () => {
      for (const key of ["first-key", "second-key"]) {
        expect((await call(endpoints.GET, "GET", "/api/endpoints", { key })).status).toBe(200);
      }
      expect((await call(endpoints.GET, "GET", "/api/endpoints", { key: "first-key, second-key" })).status).toBe(401);
    });
  });
});

describe("dashboard sessions", () => {
  afterEach(() => setSessionValidator(isDashboardSessionValid));

  const sessionCookie = async () => {
    const cookie = await createSessionCookie({ apiKey: process.env.BATCHWATCH_API_KEY!.split(",")[0]!, secure: false });
    return `${cookie.name}=${cookie.value}`;
  };

  test("a valid session cookie is accepted instead of a key", async () => {
    const response = await call(endpoints.GET, "GET", "/api/endpoints", { key: null, headers: { cookie: await sessionCookie() } });
    expect(response.status).toBe(200);
  });

  test.each([
    // The signature's first character: its last one carries padding bits that decoding ignores.
    ["a forged cookie", async () => `batchwatch_session=${Buffer.alloc(32, 1).toString("base64url")}`, {}],
    ["a session opened with a key that is no longer configured", async () => {
      const cookie = await createSessionCookie({ apiKey: "retired-key", secure: false });
      return `${cookie.name}=${cookie.value}`;
    }, {}],
    ["a state change a browser says came from another site (CSRF)", sessionCookie, { "sec-fetch-site": "cross-site" }],
    ["a state change from another origin (CSRF)", sessionCookie, { origin: "https://evil.example" }],
  ])("%s is refused", async (_name, cookie, headers: Record<string, string>) => {
    const response = await call(endpoints.POST, "POST", "/api/endpoints", {
      key: null,
      headers: { cookie: await cookie(), ...headers },
      body: { name: "ops", url: "http://127.0.0.1:9/" },
    });
    expect(response.status).toBe(401);
  });

  test("a same-origin state change with a session is accepted", async () => {
    const response = await call(endpoints.POST, "POST", "/api/endpoints", {
      key: null,
      headers: { cookie: await sessionCookie(), origin: "http://batchwatch.test", "sec-fetch-site": "same-origin" },
      body: { name: "ops", url: "http://127.0.0.1:9/" },
    });
    expect(response.status).toBe(201);
  });

  // Under `next start` every request.url names the server's own address (localhost:PORT), whatever
  // host the browser used: the Origin must be compared with the Host the client sent.
  const UNDER_NEXT_START = "http://localhost:3000/api/endpoints";
  // An empty body: 400 invalid_request once past authentication, 401 if refused before.
  const postEndpoint = async (headers: Record<string, string>) =>
    (endpoints.POST as (request: Request) => Promise<Response>)(
      new Request(UNDER_NEXT_START, {
        method: "POST",
        headers: { cookie: await sessionCookie(), "content-type": "application/json", ...headers },
        body: "{}",
      }),
    );
  const ON_VERCEL = {
    VERCEL: "1",
    BATCHWATCH_API_KEY: "a-key-that-is-long-enough-for-vercel-0123",
    BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: undefined,
    INNGEST_DEV: undefined,
    DATABASE_URL: "postgres://127.0.0.1:1/unused",
  };

  test.each([
    ["from 127.0.0.1 to 127.0.0.1", { host: "127.0.0.1:3000", origin: "http://127.0.0.1:3000" }, {}],
    ["with a host in another case", { host: "BatchWatch.example:3000", origin: "http://batchwatch.example:3000" }, {}],
    ["on Vercel, to the host its edge forwards", { host: "internal.vercel", "x-forwarded-host": "bw.example", origin: "https://bw.example" }, ON_VERCEL],
  ])("a genuine same-origin state change %s is accepted", async (_name, headers: Record<string, string>, env) => {
    await withEnv(env, async () => expect((await postEndpoint(headers)).status).toBe(400));
  });

  test.each([
    ["claiming the server's own address", { host: "attacker.example", origin: "http://localhost:3000" }, {}],
    ["naming a forwarded host off Vercel", { host: "attacker.example", "x-forwarded-host": "localhost:3000", origin: "http://localhost:3000" }, {}],
    ["with a host that differs only in port", { host: "127.0.0.1:3000", origin: "http://127.0.0.1:3001" }, {}],
  ])("a cross-origin state change %s is refused", async (_name, headers: Record<string, string>, env) => {
    await withEnv(env, async () => expect((await postEndpoint(headers)).status).toBe(401));
  });

  test("a session check that throws fails closed", async () => {
    setSessionValidator(() => {
      throw new Error("session store down");
    });
    expect((await call(endpoints.GET, "GET", "/api/endpoints", { key: null, headers: { cookie: await sessionCookie() } })).status).toBe(401);
  });
});

describe("which paths need a key", () => {
  test.each([
    ["/api/batches", true],
    ["/api/batches/gemini/batches/123/results", true],
    ["/api/endpoints/x/test", true],
    ["/api/deliveries/recover", true],
    ["/api/health", false],
    ["/api/health/", false],
    ["/api/inngest", false],
    ["/api/webhooks/gemini", false],
    ["/api/webhooks/openai", false],
    ["/api/examples/receiver", false],
    ["/api/bench/constant", false],
    ["/api/healthz", true],
    ["/api/webhooksX", true],
    ["/", false],
    ["/sign-in", false],
    ["/batches", false],
    ["/endpoints", false],
  ])("%s → %s", (path, expected) => {
    expect(requiresApiAuth(path)).toBe(expected);
  });
});

describe("the proxy", () => {
  const proxied = (path: string, headers: Record<string, string> = {}) =>
    proxy(new NextRequest(`http://batchwatch.test${path}`, { headers }));

  test("answers 401 JSON for a private API path without a key, before any route runs", async () => {
    const response = await proxied("/api/batches");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: "unauthorized", message: "missing API key: send `Authorization: Bearer <key>`" },
    });
  });

  test.each([
    ["a private API path with a valid key", "/api/batches", { authorization: "Bearer test-api-key" }],
    ["a public API path", "/api/webhooks/gemini", {}],
    ["the health check", "/api/health", {}],
    ["a dashboard page (left to the page's own session check)", "/batches", {}],
  ])("lets %s through", async (_name, path, headers) => {
    const response = await proxied(path, headers);
    expect(response.headers.get("x-middleware-next")).toBe("1");
  });
});

describe("which paths the proxy runs for", () => {
  const runsProxy = (path: string) => unstable_doesMiddlewareMatch({ config: proxyConfig, url: path });

  test.each([
    "/api",
    "/api/batches",
    "/api/batches/gemini/batches/123/results",
    "/api/endpoints/x/test",
    "/api/deliveries/recover",
    "/api/subscriptions/x",
    "/api/healthz",
    "/api/webhooksX",
    "/api/inngestion",
    "/api/benchmarks",
  ])("every path that needs a key goes through it: %s", (path) => {
    expect(requiresApiAuth(path)).toBe(true);
    expect(runsProxy(path)).toBe(true);
  });

  test.each(["/api/webhooks/openai", "/api/webhooks/gemini", "/api/inngest", "/api/health", "/api/bench/constant", "/_next/static/chunks/app.js", "/_next/image", "/favicon.ico"])(
    "paths that need nothing from it skip it: %s",
    (path) => {
      expect(requiresApiAuth(path)).toBe(false);
      expect(runsProxy(path)).toBe(false);
    },
  );

  test.each(["/", "/batches", "/batches/gemini/batches/123", "/sign-in", "/endpoints", "/deliveries", "/no-such-page"])(
    "every page goes through it for its Content Security Policy: %s",
    (path) => {
      expect(requiresApiAuth(path)).toBe(false);
      expect(runsProxy(path)).toBe(true);
    },
  );
});

describe("security headers", () => {
  const page = (path: string) => proxy(new NextRequest(`http://batchwatch.test${path}`));
  const policyOf = async (path: string) => (await page(path)).headers.get("content-security-policy") ?? "";

  test.each(["/", "/batches", "/sign-in"])("%s gets a CSP that forbids framing and scripts without its nonce", async (path) => {
    const policy = await policyOf(path);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/]{22}==' 'strict-dynamic'(;|$)/);
    expect(policy).not.toContain("unsafe-eval");
    expect(policy).toContain("object-src 'none'");
    expect(policy).toContain("base-uri 'none'");
    expect(policy).toContain("form-action 'self'");
  });

  test("the nonce is passed on to Next's renderer, and differs per request", async () => {
    const response = await page("/batches");
    const policy = response.headers.get("content-security-policy");
    expect(response.headers.get("x-middleware-request-content-security-policy")).toBe(policy);
    expect(await policyOf("/batches")).not.toBe(policy);
  });

  const configured = async (url: string, headers: Record<string, string> = {}) =>
    unstable_getResponseFromNextConfig({ url, nextConfig, headers });

  test.each(["http://batchwatch.test/batches", "http://batchwatch.test/api/batches", "http://batchwatch.test/"])(
    "%s is sent nosniff, a same-origin referrer policy and X-Frame-Options DENY",
    async (url) => {
      const response = await configured(url);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("same-origin");
      expect(response.headers.get("x-frame-options")).toBe("DENY");
    },
  );

  test("HSTS is sent over https only", async () => {
    expect((await configured("http://batchwatch.test/batches", { "x-forwarded-proto": "https" })).headers.get("strict-transport-security")).toMatch(
      /^max-age=\d{8,}; includeSubDomains$/,
    );
    expect((await configured("http://batchwatch.test/batches")).headers.get("strict-transport-security")).toBeNull();
  });

  test("X-Powered-By is off", () => {
    expect(nextConfig.poweredByHeader).toBe(false);
  });
});
