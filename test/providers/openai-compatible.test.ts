import { beforeEach, describe, expect, test } from "vitest";
import { getProvider, ProviderError, type ProviderName, type UnifiedStatus } from "@/lib/providers";
import { OPENAI_BATCH_STATUS_MAP } from "@/lib/providers/openai-batch";
import { CREATED_AT, ERROR_LINES, OUTPUT_LINES, openAIBatch } from "./fixtures/openai";
import { collect } from "./helpers/collect";
import { setEnv } from "./helpers/env";
import { useFakeProvider } from "./helpers/fake-provider";
import { jsonlRoute } from "./helpers/fake-server";

/**
 * OpenAI, Azure OpenAI and Groq share OpenAI's batch object; each is driven through the real openai
 * SDK against a local fake, reached through the provider's own base-URL convention.
 */

const server = useFakeProvider();

interface Flavour {
  provider: ProviderName;
  configure(url: string): void;
  /** Path prefix the SDK should hit for this provider. */
  prefix: string;
  expectAuth(headers: Record<string, string | string[] | undefined>): void;
  expectQuery?(query: URLSearchParams): void;
}

const FLAVOURS: Flavour[] = [
  {
    provider: "openai",
    configure: (url) => setEnv({ OPENAI_API_KEY: "sk-test-openai", OPENAI_BASE_URL: `${url}/v1` }),
    prefix: "/v1",
    expectAuth: (headers) => expect(headers.authorization).toBe("Bearer sk-test-openai"),
  },
  {
    provider: "azure",
    configure: (url) =>
      setEnv({
        AZURE_OPENAI_API_KEY: "azure-test-key",
        AZURE_OPENAI_ENDPOINT: `${url}/`,
        AZURE_OPENAI_API_VERSION: "2024-10-21",
        // Belongs to the openai provider; Azure must not follow it.
        OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
      }),
    prefix: "/openai",
    expectAuth: (headers) => expect(headers["api-key"]).toBe("azure-test-key"),
    expectQuery: (query) => expect(query.get("api-version")).toBe("2024-10-21"),
  },
  {
    provider: "groq",
    configure: (url) => setEnv({ GROQ_API_KEY: "gsk-test", GROQ_BASE_URL: url, OPENAI_ORG_ID: "org-must-not-leak" }),
    prefix: "/openai/v1",
    expectAuth: (headers) => {
      expect(headers.authorization).toBe("Bearer gsk-test");
      expect(headers["openai-organization"]).toBeUndefined();
    },
  },
];

const STATUS_ROWS = Object.entries(OPENAI_BATCH_STATUS_MAP) as [string, UnifiedStatus][];
const TERMINAL = new Set(["completed", "failed", "expired", "cancelled"]);

describe.each(FLAVOURS)("$provider batch", (flavour) => {
  beforeEach(() => flavour.configure(server.url));

  test.each(STATUS_ROWS)("maps status %s to %s", async (providerStatus, unified) => {
    const batch = openAIBatch(providerStatus);
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, batch);

    const snapshot = await getProvider(flavour.provider).retrieve("batch_abc123");

    expect(snapshot.provider).toBe(flavour.provider);
    expect(snapshot.kind).toBe("batch");
    expect(snapshot.id).toBe("batch_abc123");
    expect(snapshot.status).toBe(unified);
    expect(snapshot.providerStatus).toBe(providerStatus);
    expect(snapshot.terminal).toBe(TERMINAL.has(unified));
    expect(snapshot.requestCounts).toEqual(batch.request_counts);
    const { total, completed, failed } = batch.request_counts;
    expect(snapshot.progress).toBe(total === 0 ? null : (completed + failed) / total);
    expect(snapshot.createdAt).toBe(new Date(CREATED_AT * 1000).toISOString());
    expect(snapshot.expiresAt).toBe(new Date((CREATED_AT + 86_400) * 1000).toISOString());
    const endedAt = { completed: batch.completed_at, failed: batch.failed_at, expired: batch.expired_at, cancelled: batch.cancelled_at }[
      providerStatus
    ];
    expect(snapshot.endedAt).toBe(endedAt ? new Date(endedAt * 1000).toISOString() : null);
    expect(snapshot.detail).toBeNull();
  });

  test("sends the provider's credentials to its own endpoint", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("in_progress"));
    await getProvider(flavour.provider).retrieve("batch_abc123");
    const [request] = server.requests;
    expect(request?.path).toBe(`${flavour.prefix}/batches/batch_abc123`);
    flavour.expectAuth(request!.headers);
    flavour.expectQuery?.(request!.query);
  });

  test("keeps file ids and batch errors in raw", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("failed"));
    const snapshot = await getProvider(flavour.provider).retrieve("batch_abc123");
    expect(snapshot.raw).toMatchObject({
      errors: [{ code: "invalid_json_line", message: "This line is not parseable as valid JSON.", line: 3 }],
      model: "gpt-4o-mini-2024-07-18",
    });
    expect(snapshot.raw).not.toHaveProperty("outputFileId");
  });

  test("reports request counts as null when the batch object has none", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("validating", { request_counts: undefined }));
    const snapshot = await getProvider(flavour.provider).retrieve("batch_abc123");
    expect(snapshot.requestCounts).toBeNull();
    expect(snapshot.progress).toBeNull();
  });

  test("rejects a status it does not know as invalid_response", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("paused"));
    await expect(getProvider(flavour.provider).retrieve("batch_abc123")).rejects.toMatchObject({
      code: "invalid_response",
      message: expect.stringContaining('"paused"'),
    });
  });

  test("streams the output file, then the error file, reporting malformed lines", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("completed"));
    server.route(`GET ${flavour.prefix}/files/file-output/content`, jsonlRoute(OUTPUT_LINES));
    server.route(`GET ${flavour.prefix}/files/file-errors/content`, jsonlRoute(ERROR_LINES));

    const results = await collect(getProvider(flavour.provider).results("batch_abc123"));

    expect(results).toEqual([
      { ok: true, customId: "request-1", body: expect.objectContaining({ id: "chatcmpl-1" }) },
      { ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: 2 } },
      { ok: true, customId: "request-3", body: expect.objectContaining({ id: "chatcmpl-3" }) },
      { ok: false, customId: "request-2", error: { code: "empty_array", message: "Invalid 'messages': empty array." } },
      {
        ok: false,
        customId: "request-4",
        error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." },
      },
    ]);
  });

  test("yields no results while the batch has no files yet", async () => {
    server.json(`GET ${flavour.prefix}/batches/batch_abc123`, openAIBatch("in_progress"));
    expect(await collect(getProvider(flavour.provider).results("batch_abc123"))).toEqual([]);
  });
});

describe.each(["azure", "groq"] as const)("%s with other job kinds", (provider) => {
  test.each(["response", "fine_tuning_job", "eval_run"] as const)("refuses %s as unsupported", async (kind) => {
    const error = await getProvider(provider).retrieve("x", { kind }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: "unsupported" });
  });
});
