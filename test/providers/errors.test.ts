import { createServer } from "node:net";
import { beforeEach, describe, expect, test } from "vitest";
import { getProvider, ProviderError, type ProviderName } from "@/lib/providers";
import { parseRetryAfterMs, providerErrorFromStatus, toProviderError } from "@/lib/providers/errors";
import { setEnv } from "./helpers/env";
import { useFakeProvider } from "./helpers/fake-provider";
import { sendJson } from "./helpers/fake-server";

/**
 * Every transport — the openai, Anthropic and Mistral SDKs and plain fetch (Gemini, Together, xAI) —
 * must turn the same HTTP failure into the same ProviderError.
 */

const server = useFakeProvider();

interface Transport {
  provider: ProviderName;
  path: string;
  configure(baseUrl: string): void;
}

const TRANSPORTS: Transport[] = [
  { provider: "openai", path: "/v1/batches/b1", configure: (url) => setEnv({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${url}/v1` }) },
  { provider: "anthropic", path: "/v1/messages/batches/b1", configure: (url) => setEnv({ ANTHROPIC_API_KEY: "sk-ant", ANTHROPIC_BASE_URL: url }) },
  { provider: "mistral", path: "/v1/batch/jobs/b1", configure: (url) => setEnv({ MISTRAL_API_KEY: "m-key", MISTRAL_BASE_URL: url }) },
  { provider: "gemini", path: "/v1beta/batches/b1", configure: (url) => setEnv({ GEMINI_API_KEY: "g-key", GEMINI_BASE_URL: url }) },
  { provider: "together", path: "/v1/batches/b1", configure: (url) => setEnv({ TOGETHER_API_KEY: "t-key", TOGETHER_BASE_URL: `${url}/v1` }) },
  { provider: "xai", path: "/v1/batches/b1", configure: (url) => setEnv({ XAI_API_KEY: "x-key", XAI_BASE_URL: `${url}/v1` }) },
];

const inTwoMinutes = () => new Date(Date.now() + 120_000).toUTCString();

async function retrieveError(provider: ProviderName): Promise<ProviderError> {
  const error = await getProvider(provider).retrieve("b1").then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe.each(TRANSPORTS)("$provider", (transport) => {
  beforeEach(() => transport.configure(server.url));

  test.each([
    [401, "credentials"],
    [403, "credentials"],
    [404, "not_found"],
    [500, "unavailable"],
    [503, "unavailable"],
  ])("classifies HTTP %i as %s", async (status, code) => {
    server.json(`GET ${transport.path}`, { error: { message: "something went wrong", type: "error" } }, status);
    const error = await retrieveError(transport.provider);
    expect(error).toMatchObject({ code, status, provider: transport.provider });
    expect(error.retryable).toBe(code === "unavailable");
  });

  test("never repeats a credential error's text, which can echo part of the key", async () => {
    server.json(`GET ${transport.path}`, { error: { message: "Incorrect API key provided: sk-abc***xyz", type: "invalid_request_error" } }, 401);
    const error = await retrieveError(transport.provider);
    expect(error.code).toBe("credentials");
    expect(error.message).not.toContain("sk-abc");
  });

  test("classifies 429 with Retry-After in seconds as rate_limited", async () => {
    server.json(`GET ${transport.path}`, { error: { message: "slow down" } }, 429, { "retry-after": "7" });
    const error = await retrieveError(transport.provider);
    expect(error).toMatchObject({ code: "rate_limited", status: 429, retryAfterMs: 7000 });
    expect(error.retryable).toBe(true);
  });

  test("classifies 429 with Retry-After as an HTTP date as rate_limited", async () => {
    server.json(`GET ${transport.path}`, { error: { message: "slow down" } }, 429, { "retry-after": inTwoMinutes() });
    const error = await retrieveError(transport.provider);
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterMs).toBeGreaterThan(110_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  test("times out on a provider that never answers", async () => {
    setEnv({ BATCHWATCH_PROVIDER_TIMEOUT_MS: "200" });
    server.route(`GET ${transport.path}`, () => undefined);
    const started = Date.now();
    const error = await retrieveError(transport.provider);
    expect(error.code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test.each([
    ["a JSON object of the wrong shape", (response: import("node:http").ServerResponse) => sendJson(response, 200, { unexpected: true })],
    [
      "an HTML page",
      (response: import("node:http").ServerResponse) => {
        response.writeHead(200, { "content-type": "text/html" });
        response.end("<html>maintenance</html>");
      },
    ],
  ])("reports %s as invalid_response", async (_case, answer) => {
    server.route(`GET ${transport.path}`, (_request, response) => answer(response));
    expect((await retrieveError(transport.provider)).code).toBe("invalid_response");
  });

  test("reports a refused connection as unavailable", async () => {
    transport.configure(`http://127.0.0.1:${await closedPort()}`);
    const error = await retrieveError(transport.provider);
    expect(error).toMatchObject({ code: "unavailable" });
    expect(error.retryable).toBe(true);
  });
});

/** Two providers refuse a bad key with HTTP 400, not 401: the body, as each sends it, says why. */
describe("an invalid key answered with HTTP 400", () => {
  test.each<[string, ProviderName, string, unknown, string]>([
    [
      "Gemini (INVALID_ARGUMENT, ErrorInfo reason API_KEY_INVALID)",
      "gemini",
      "/v1beta/batches/b1",
      {
        error: {
          code: 400,
          message: "API key not valid. Please pass a valid API key.",
          status: "INVALID_ARGUMENT",
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "API_KEY_INVALID",
              domain: "googleapis.com",
              metadata: { service: "generativelanguage.googleapis.com" },
            },
            { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message: "API key not valid. Please pass a valid API key." },
          ],
        },
      },
      "API key not valid",
    ],
    [
      "xAI (Incorrect API key provided, with a masked key)",
      "xai",
      "/v1/batches/b1",
      { code: "Client specified an invalid argument", error: "Incorrect API key provided: xa***yz. You can obtain an API key from https://console.x.ai." },
      "xa***yz",
    ],
  ])("is a credentials error for %s, without the provider's text", async (_case, provider, path, body, echoed) => {
    TRANSPORTS.find((transport) => transport.provider === provider)!.configure(server.url);
    server.json(`GET ${path}`, body, 400);

    const error = await retrieveError(provider);

    expect(error).toMatchObject({ code: "credentials", status: 400, provider });
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain(echoed);
    expect(error.message).not.toContain("***");
  });

  test("a 400 about anything else is still not_found", async () => {
    TRANSPORTS.find((transport) => transport.provider === "gemini")!.configure(server.url);
    server.json("GET /v1beta/batches/b1", { error: { code: 400, message: "Invalid batch name.", status: "INVALID_ARGUMENT" } }, 400);
    expect(await retrieveError("gemini")).toMatchObject({ code: "not_found", status: 400 });
  });
});

test("never repeats a masked key fragment, whatever the error", () => {
  const error = providerErrorFromStatus(404, undefined, "xai", { error: "No batch for key xa***yz" });
  expect(error.code).toBe("not_found");
  expect(error.message).not.toContain("xa***yz");
});

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  test.each([
    [{ "retry-after": "30" }, 30_000],
    [{ "retry-after": "1.5" }, 1_500],
    [{ "retry-after": "Sun, 01 Mar 2026 12:01:00 GMT" }, 60_000],
    [{ "retry-after": "Sun, 01 Mar 2026 11:00:00 GMT" }, 0],
    [{ "retry-after-ms": "250", "retry-after": "30" }, 250],
    [{ "retry-after": "soon" }, undefined],
    [{}, undefined],
  ])("reads %o as %s ms", (headers, expected) => {
    expect(parseRetryAfterMs(headers, now)).toBe(expected);
    expect(parseRetryAfterMs(new Headers(headers), now)).toBe(expected);
  });
});

describe("classification", () => {
  test.each([
    [400, "not_found"],
    [408, "timeout"],
    [409, "unavailable"],
    [422, "not_found"],
    [502, "unavailable"],
    [529, "unavailable"],
  ])("maps HTTP %i to %s", (status, code) => {
    expect(providerErrorFromStatus(status, undefined, "openai").code).toBe(code);
  });

  test("keeps an existing ProviderError as it is", () => {
    const original = new ProviderError("not_enabled", "off");
    expect(toProviderError(original, "simulated")).toBe(original);
  });

  test("treats a connection reset deep in the cause chain as unavailable", () => {
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(toProviderError(new TypeError("fetch failed", { cause: reset }), "gemini").code).toBe("unavailable");
  });
});
