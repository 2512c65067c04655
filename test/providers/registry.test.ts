import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { getProvider, isProviderName, PROVIDER_NAMES, ProviderError, type ProviderName } from "@/lib/providers";
import { openAIBatch } from "./fixtures/openai";
import { collect } from "./helpers/collect";
import { isolateProviderEnv, setEnv } from "./helpers/env";
import { startFakeServer, type FakeServer } from "./helpers/fake-server";

/** The registry and the configuration contract shared by every provider. */

isolateProviderEnv();
let first: FakeServer;
let second: FakeServer;
beforeAll(async () => {
  [first, second] = await Promise.all([startFakeServer(), startFakeServer()]);
});
afterAll(() => Promise.all([first.close(), second.close()]));
beforeEach(() => {
  first.reset();
  second.reset();
});

test("an unknown provider name is a typed unknown_provider error", () => {
  let caught: unknown;
  try {
    getProvider("bedrock");
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProviderError);
  expect(caught).toMatchObject({ code: "unknown_provider", message: expect.stringContaining("bedrock") });
});

test("isProviderName accepts exactly the provider names", () => {
  for (const name of PROVIDER_NAMES) expect(isProviderName(name)).toBe(true);
  for (const name of ["", "OpenAI", "bedrock", "toString", 42, null]) expect(isProviderName(name)).toBe(false);
});

test.each(PROVIDER_NAMES)("%s resolves without any credentials set, honouring the adapter contract", (name) => {
  const adapter = getProvider(name);
  expect(adapter.name).toBe(name);
  expect(adapter.supportedKinds).toEqual(name === "openai" ? ["batch", "response", "fine_tuning_job", "eval_run"] : ["batch"]);
  expect(adapter.nativeWebhooks).toBe(name === "openai" || name === "gemini");
  expect(adapter.completionWindowMs).toBeGreaterThanOrEqual(24 * 60 * 60 * 1000);
});

const REQUIRED_VARIABLES: [Exclude<ProviderName, "simulated">, string[]][] = [
  ["openai", ["OPENAI_API_KEY"]],
  ["azure", ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_VERSION"]],
  ["groq", ["GROQ_API_KEY"]],
  ["together", ["TOGETHER_API_KEY"]],
  ["xai", ["XAI_API_KEY"]],
  ["anthropic", ["ANTHROPIC_API_KEY"]],
  ["gemini", ["GEMINI_API_KEY"]],
  ["mistral", ["MISTRAL_API_KEY"]],
];

describe.each(REQUIRED_VARIABLES)("%s without credentials", (name, variables) => {
  test("assertConfigured names every missing variable", () => {
    const error = (() => {
      try {
        getProvider(name).assertConfigured();
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toMatchObject({ code: "credentials", provider: name });
    for (const variable of variables) expect((error as Error).message).toContain(variable);
  });

  test("retrieve and results fail with credentials, not at import", async () => {
    await expect(getProvider(name).retrieve("any-id")).rejects.toMatchObject({ code: "credentials" });
    await expect(collect(getProvider(name).results("any-id"))).rejects.toMatchObject({ code: "credentials" });
  });
});

test("a partly configured provider names only what is missing", () => {
  setEnv({ AZURE_OPENAI_API_KEY: "k", AZURE_OPENAI_ENDPOINT: "https://example.openai.azure.com" });
  expect(() => getProvider("azure").assertConfigured()).toThrow(/set AZURE_OPENAI_API_VERSION$/);
});

test("a blank variable counts as missing", () => {
  setEnv({ OPENAI_API_KEY: "   " });
  expect(() => getProvider("openai").assertConfigured()).toThrow(expect.objectContaining({ code: "credentials" }));
});

test("configuration set after import is read at each call", async () => {
  const adapter = getProvider("openai");
  for (const server of [first, second]) server.json("GET /v1/batches/batch_abc123", openAIBatch("in_progress"));

  setEnv({ OPENAI_API_KEY: "sk-first", OPENAI_BASE_URL: `${first.url}/v1` });
  expect(() => adapter.assertConfigured()).not.toThrow();
  await adapter.retrieve("batch_abc123");

  setEnv({ OPENAI_API_KEY: "sk-second", OPENAI_BASE_URL: `${second.url}/v1` });
  await adapter.retrieve("batch_abc123");

  expect(first.requests.map((request) => request.headers.authorization)).toEqual(["Bearer sk-first"]);
  expect(second.requests.map((request) => request.headers.authorization)).toEqual(["Bearer sk-second"]);
});
