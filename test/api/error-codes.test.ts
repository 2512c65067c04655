import { readFileSync } from "node:fs";
import { describe, expect, test, vi } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as batch from "@/app/api/batches/[provider]/[...batchId]/route";
import * as resend from "@/app/api/deliveries/[id]/resend/route";
import * as endpoints from "@/app/api/endpoints/route";
import * as gemini from "@/app/api/webhooks/gemini/route";
import { setDb, type Database } from "@/lib/db";
import { ERROR_CODES, type ErrorCode } from "@/lib/errors";
import { withEnv } from "../helpers/env";
import { closedPortUrl } from "../helpers/event-api";
import { call, useApiHarness } from "../helpers/api";

const harness = useApiHarness();

/**
 * The statuses as documented for callers (the table under "## Errors" in docs/api.md), not the
 * table under test in lib/errors.ts: a status changed in one place only fails here.
 */
const DOCUMENTED_STATUS = documentedStatuses();

function documentedStatuses(): Record<string, number> {
  const doc = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("\n## Errors\n"), doc.indexOf("\n## ", doc.indexOf("\n## Errors\n") + 1));
  const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)];
  if (rows.length === 0) throw new Error("docs/api.md has no error table under ## Errors");
  return Object.fromEntries(rows.map(([, code, status]) => [code!, Number(status)]));
}

const RECEIVER = "http://127.0.0.1:9/hooks";
const valid = { provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER };
const track = (body: unknown) => call(batches.POST, "POST", "/api/batches", { body });

/** One request that produces each error code: every code of lib/errors.ts is reachable by a caller. */
const SCENARIOS: Record<ErrorCode, () => Promise<{ status: number; json: any }>> = {
  invalid_json: () => track("{"),
  invalid_request: () => track({ provider: "simulated", webhookUrl: RECEIVER }),
  unknown_provider: () => track({ ...valid, provider: "skynet" }),
  provider_not_configured: () => withEnv({ ANTHROPIC_API_KEY: undefined }, () => track({ ...valid, provider: "anthropic", batchId: "msgbatch_1" })),
  unsafe_webhook_url: () => track({ ...valid, webhookUrl: "gopher://example.com/" }),
  unauthorized: () => call(batches.GET, "GET", "/api/batches", { key: "wrong" }),
  rate_limited: async () => {
    const wrongKey = () => call(batches.GET, "GET", "/api/batches", { key: "wrong", headers: { "x-forwarded-for": "198.51.100.9" } });
    for (let attempt = 0; attempt < 10; attempt++) await wrongKey();
    return wrongKey();
  },
  not_found: () => call(batch.GET, "GET", "/api/batches/simulated/nope", { params: { provider: "simulated", batchId: ["nope"] } }),
  conflict: async () => {
    await call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "ops", url: RECEIVER } });
    return call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "ops", url: RECEIVER } });
  },
  not_configured: () => withEnv({ BATCHWATCH_ENCRYPTION_KEY: undefined }, () => call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "ops", url: RECEIVER } })),
  payload_too_large: () => track({ ...valid, metadata: { blob: "x".repeat(5000) } }),
  invalid_signature: () =>
    withEnv({ GEMINI_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, () =>
      call(gemini.POST, "POST", "/api/webhooks/gemini", {
        key: null,
        body: "{}",
        headers: { "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
      }),
    ),
  provider_unavailable: async () => {
    // The provider cannot be reached while the results are read: its failure, not the caller's.
    const unreachable = `${await closedPortUrl()}/v1`;
    return withEnv({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: unreachable }, async () => {
      await track({ ...valid, provider: "openai", batchId: "batch_unreachable" });
      return call(batch.GET, "GET", "/api/batches/openai/batch_unreachable/results", {
        params: { provider: "openai", batchId: ["batch_unreachable", "results"] },
      });
    });
  },
  inngest_unavailable: async () => {
    // A resend answers only once its event is sent (ingest answers first and sends after): with
    // Inngest down it is 503, and the resend waits in the outbox.
    const { json } = await track(valid);
    await harness.db.query(
      `INSERT INTO deliveries (id, job_id, subscription_id, event_type, payload, status, failed_at)
       VALUES ('dlv_down', $1, $2, 'batch.completed', '{}', 'failed', now())`,
      [json.job.id, json.subscription.id],
    );
    harness.events.down = true;
    const errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      return await call(resend.POST, "POST", "/api/deliveries/dlv_down/resend", { params: { id: "dlv_down" } });
    } finally {
      harness.events.down = false;
      errorLog.mockRestore();
    }
  },
  internal: async () => {
    // A database that fails unexpectedly: the caller learns nothing about why.
    const broken = { query: async () => Promise.reject(new Error("connection to 10.0.0.5 lost: password=hunter2")) };
    setDb(broken as unknown as Database);
    const errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      return await call(endpoints.GET, "GET", "/api/endpoints");
    } finally {
      errorLog.mockRestore();
      setDb(harness.db);
    }
  },
};

describe("every error code is produced by some request, with its one status", () => {
  test.each(ERROR_CODES.map((code) => [code]))("%s", async (code) => {
    const response = await SCENARIOS[code]();
    expect(response.json).toEqual({ error: { code, message: expect.any(String) } });
    expect(response.status).toBe(DOCUMENTED_STATUS[code]);
    expect(response.json.error.message).not.toMatch(/hunter2|whsec_/);
  });

  test("the scenarios cover exactly the codes of lib/errors.ts", () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...ERROR_CODES].sort());
  });

  test("docs/api.md documents exactly the codes of lib/errors.ts", () => {
    expect(Object.keys(DOCUMENTED_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });
});
