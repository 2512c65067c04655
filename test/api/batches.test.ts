import { afterEach, describe, expect, test, vi } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as batch from "@/app/api/batches/[provider]/[...batchId]/route";
import * as endpoints from "@/app/api/endpoints/route";
import { setClock } from "@/lib/clock";
import { withEnv } from "../helpers/env";
import { call, useApiHarness, waitUntil } from "../helpers/api";

const harness = useApiHarness();

const RECEIVER = "http://127.0.0.1:9/hooks";

const track = (body: unknown) => call(batches.POST, "POST", "/api/batches", { body });

const batchPath = (provider: string, id: string) => ({
  path: `/api/batches/${provider}/${id}`,
  params: { provider, batchId: id.split("/") },
});

async function count(table: string): Promise<number> {
  const [row] = await harness.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row!.n;
}

describe("POST /api/batches", () => {
  test("tracks a batch: 202 with the job and subscription, and batch/tracked is sent", async () => {
    const response = await track({
      provider: "simulated",
      batchId: "sim_90s_completed_10",
      webhookUrl: RECEIVER,
      metadata: { customer: "acme" },
    });
    expect(response.status).toBe(202);
    expect(response.json.job).toMatchObject({ provider: "simulated", kind: "batch", batchId: "sim_90s_completed_10" });
    expect(response.json.subscription).toMatchObject({
      jobId: response.json.job.id,
      destination: { type: "url", url: RECEIVER },
      metadata: { customer: "acme" },
      disabledAt: null,
    });
    expect(harness.events.named("batch/tracked")).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ provider: "simulated", batchId: "sim_90s_completed_10", subscriptionId: response.json.subscription.id }),
      }),
    ]);
  });

  test("tracking the same batch and destination twice answers 200 with the one existing subscription", async () => {
    const body = { provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER };
    const first = await track(body);
    const second = await track(body);
    expect([first.status, second.status]).toEqual([202, 200]);
    expect(second.json.subscription.id).toBe(first.json.subscription.id);
    expect(await count("subscriptions")).toBe(1);
    expect(await count("jobs")).toBe(1);
  });

  test("a second destination for the same batch is a second subscription on the same job", async () => {
    const first = await track({ provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER });
    const second = await track({ provider: "simulated", batchId: "sim_90s_completed", webhookUrl: `${RECEIVER}/other` });
    expect(second.status).toBe(202);
    expect(second.json.job.id).toBe(first.json.job.id);
    expect(await count("subscriptions")).toBe(2);
  });

  test("a named endpoint can be the destination", async () => {
    await call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "ops", url: RECEIVER } });
    const response = await track({ provider: "simulated", batchId: "sim_90s_failed", endpoint: "ops" });
    expect(response.status).toBe(202);
    expect(response.json.subscription.destination).toMatchObject({ type: "endpoint" });
  });

  test("tracking never waits on the provider: an id the provider does not know is still accepted", async () => {
    const response = await track({ provider: "simulated", batchId: "not-a-simulated-id", webhookUrl: RECEIVER });
    expect(response.status).toBe(202);
  });

  test("metadata of exactly 4 KB serialised is accepted; one byte more is payload_too_large", async () => {
    const padding = 4096 - JSON.stringify({ note: "" }).length;
    const fits = await track({ provider: "simulated", batchId: "sim_1m_completed", webhookUrl: RECEIVER, metadata: { note: "x".repeat(padding) } });
    expect(fits.status).toBe(202);
    const tooBig = await track({ provider: "simulated", batchId: "sim_2m_completed", webhookUrl: RECEIVER, metadata: { note: "x".repeat(padding + 1) } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.error.code).toBe("payload_too_large");
    expect(await count("jobs")).toBe(1);
  });

  const valid = { provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER };

  test.each([
    ["a body that is not JSON", "{provider:", 400, "invalid_json", ""],
    ["an empty body", "", 400, "invalid_json", ""],
    ["a JSON array", [valid], 400, "invalid_request", "body"],
    ["a missing batchId", { provider: "simulated", webhookUrl: RECEIVER }, 400, "invalid_request", "batchId"],
    ["both webhookUrl and endpoint", { ...valid, endpoint: "ops" }, 400, "invalid_request", "webhookUrl"],
    ["neither webhookUrl nor endpoint", { provider: "simulated", batchId: "sim_1s_completed" }, 400, "invalid_request", "webhookUrl"],
    ["an unknown kind", { ...valid, kind: "video" }, 400, "invalid_request", "kind"],
    ["metadata that is not an object", { ...valid, metadata: ["a"] }, 400, "invalid_request", "metadata"],
    ["an unknown field", { ...valid, callback: "x" }, 400, "invalid_request", "callback"],
    ["an unknown provider", { ...valid, provider: "skynet" }, 400, "unknown_provider", "skynet"],
    ["an unknown provider, even when every other field is wrong too", { provider: "skynet", kind: 7 }, 400, "unknown_provider", "skynet"],
    ["a provider without credentials", { ...valid, provider: "openai", batchId: "batch_abc" }, 400, "provider_not_configured", "OPENAI_API_KEY"],
    ["a non-http webhook URL", { ...valid, webhookUrl: "ftp://example.com/hook" }, 400, "unsafe_webhook_url", "scheme"],
    ["a webhook URL with credentials", { ...valid, webhookUrl: "https://user:pw@example.com/hook" }, 400, "unsafe_webhook_url", "credentials"],
    ["an endpoint name that does not exist", { provider: "simulated", batchId: "sim_1s_completed", endpoint: "nope" }, 404, "not_found", "nope"],
    ["a body over 64 KB", { ...valid, metadata: { note: "x".repeat(70 * 1024) } }, 413, "payload_too_large", "65536"],
  ])("%s → $2 $3", async (_name, body, status, code, mentions) => {
    await withEnv({ OPENAI_API_KEY: undefined }, async () => {
      const response = await track(body);
      expect(response.status).toBe(status);
      expect(response.json.error.code).toBe(code);
      expect(response.json.error.message).toContain(mentions);
    });
    expect(await count("jobs")).toBe(0);
    expect(harness.events.events).toEqual([]);
  });

  test("an unsafe private destination is refused when private webhooks are not allowed", async () => {
    await withEnv({ BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "0" }, async () => {
      const response = await track({ ...valid, webhookUrl: "https://169.254.169.254/latest/meta-data" });
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe("unsafe_webhook_url");
    });
  });

  test("while Inngest is down tracking still answers 202, and batch/tracked is sent once Inngest is back", async () => {
    const errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      harness.events.down = true;
      const response = await track(valid);
      expect(response.status).toBe(202);
      expect(await count("jobs")).toBe(1);
      expect(harness.events.events).toEqual([]);
      expect(errorLog).toHaveBeenCalledWith(expect.stringContaining("(they stay in the outbox and are retried)"));

      harness.events.down = false;
      await waitUntil(() => harness.events.named("batch/tracked").length === 1);
      expect(harness.events.named("batch/tracked")[0]!.id).toBe(`tracked:${response.json.subscription.id}`);
    } finally {
      harness.events.down = false;
      errorLog.mockRestore();
    }
  });
});

describe("GET /api/batches", () => {
  const list = (query = "") => call(batches.GET, "GET", `/api/batches${query}`);

  async function trackMany(n: number) {
    for (let i = 0; i < n; i++) {
      expect((await track({ provider: "simulated", batchId: `sim_${i + 1}m_completed`, webhookUrl: RECEIVER })).status).toBe(202);
    }
  }

  test("pages newest first with an opaque cursor until there is none, never repeating a job", async () => {
    await trackMany(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(response.status).toBe(200);
      expect(response.json.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...response.json.jobs.map((job: { batchId: string }) => job.batchId));
      cursor = response.json.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(["sim_5m_completed", "sim_4m_completed", "sim_3m_completed", "sim_2m_completed", "sim_1m_completed"]);
  });

  test("jobs tracked in the same instant are neither skipped nor repeated across pages", async () => {
    await harness.db.query(
      "INSERT INTO jobs (provider, batch_id, tracked_at) SELECT 'simulated', 'sim_' || g || 's_completed', '2026-01-01T00:00:00.123456Z' FROM generate_series(1, 7) g",
    );
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const response = await list(`?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      for (const job of response.json.jobs) seen.add(job.id);
      cursor = response.json.nextCursor;
    } while (cursor);
    expect(seen.size).toBe(7);
  });

  test("filters by status and provider", async () => {
    await trackMany(2);
    await harness.db.query("UPDATE jobs SET status = 'completed' WHERE batch_id = 'sim_1m_completed'");
    const completed = await list("?status=completed&provider=simulated");
    expect(completed.json.jobs.map((job: { batchId: string }) => job.batchId)).toEqual(["sim_1m_completed"]);
    expect((await list("?provider=openai")).json.jobs).toEqual([]);
    expect((await list()).json).toMatchObject({ nextCursor: null });
  });

  test.each([
    ["?limit=0", 400, "invalid_request", "limit"],
    ["?limit=101", 400, "invalid_request", "limit"],
    ["?limit=ten", 400, "invalid_request", "limit"],
    ["?status=done", 400, "invalid_request", "status"],
    ["?provider=skynet", 400, "unknown_provider", "skynet"],
    ["?cursor=bm90LWEtY3Vyc29y", 400, "invalid_request", "cursor"],
    ["?cursor=%%%", 400, "invalid_request", "cursor"],
    // Well-formed, but its timestamp is not one we wrote (Postgres would reject it with a 500).
    [`?cursor=${Buffer.from(JSON.stringify(["1", "00000000-0000-4000-8000-000000000000"])).toString("base64url")}`, 400, "invalid_request", "cursor"],
  ])("%s → %i %s", async (query, status, code, mentions) => {
    const response = await list(query);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
    expect(response.json.error.message).toContain(mentions);
  });
});

describe("GET /api/batches/{provider}/{batchId}", () => {
  const detail = (provider: string, id: string, query = "") => {
    const { path, params } = batchPath(provider, id);
    return call(batch.GET, "GET", `${path}${query}`, { params });
  };

  test("shows the job with its subscriptions, deliveries and attempts", async () => {
    const tracked = await track({ provider: "simulated", batchId: "sim_90s_completed", webhookUrl: RECEIVER });
    await harness.db.query(
      `INSERT INTO deliveries (id, job_id, subscription_id, event_type, payload, status, attempt_count, last_status_code)
       VALUES ('dlv_1', $1, $2, 'batch.completed', '{}', 'delivered', 1, 200)`,
      [tracked.json.job.id, tracked.json.subscription.id],
    );
    await harness.db.query(
      "INSERT INTO delivery_attempts (delivery_id, run_id, attempt, status_code, duration_ms) VALUES ('dlv_1', 'run', 0, 200, 12)",
    );
    const response = await detail("simulated", "sim_90s_completed");
    expect(response.status).toBe(200);
    expect(response.json.job).toMatchObject({ id: tracked.json.job.id, status: "validating" });
    expect(response.json.subscriptions).toEqual([tracked.json.subscription]);
    expect(response.json.deliveries).toEqual([
      expect.objectContaining({ id: "dlv_1", status: "delivered", attempts: [expect.objectContaining({ statusCode: 200, durationMs: 12 })] }),
    ]);
    expect(response.json.events.map((event: { type: string }) => event.type)).toContain("tracked");
  });

  test("a running batch shows its ETA: a range from its progress, or plainly not enough evidence yet", async () => {
    const tracked = await track({ provider: "simulated", batchId: "sim_10h_completed_1000", webhookUrl: RECEIVER });
    const jobId = tracked.json.job.id;
    const createdAt = Date.parse(tracked.json.job.trackedAt);
    const fresh = await detail("simulated", "sim_10h_completed_1000");
    expect(fresh.json.job.eta).toEqual({ state: "not_enough_evidence", reason: "not_started", latestAt: null });

    // Polled every half hour for four hours at 100 requests an hour.
    const observations = Array.from({ length: 8 }, (_, i) => ({
      at: createdAt + (i + 1) * 1_800_000,
      status: "in_progress",
      requestCounts: { total: 1000, completed: (i + 1) * 50, failed: 0 },
    }));
    await harness.db.query("UPDATE jobs SET status = 'in_progress', observations = $2::jsonb, expires_at = $3 WHERE id = $1", [
      jobId,
      JSON.stringify(observations),
      new Date(createdAt + 86_400_000),
    ]);
    setClock(() => observations.at(-1)!.at);
    try {
      const eta = (await detail("simulated", "sim_10h_completed_1000")).json.job.eta;
      expect(eta).toMatchObject({ state: "estimated", basis: "pace", pastDeadline: false });
      const [earliest, expected, latest] = [eta.earliestAt, eta.expectedAt, eta.latestAt].map(Date.parse);
      // 400 of 1000 after 4 h: the rest by about 10 h, plus finalizing.
      expect(expected - createdAt).toBeGreaterThan(10 * 3_600_000);
      expect(expected - createdAt).toBeLessThan(11 * 3_600_000);
      expect(earliest).toBeLessThan(expected);
      expect(latest).toBeGreaterThan(expected);

      await harness.db.query("UPDATE jobs SET settled_at = now(), status = 'completed', outcome = 'completed' WHERE id = $1", [jobId]);
      expect((await detail("simulated", "sim_10h_completed_1000")).json.job.eta).toBeNull();
    } finally {
      setClock();
    }
  });

  test("finds a Gemini batch whose id contains a slash", async () => {
    await harness.db.query("INSERT INTO jobs (provider, batch_id) VALUES ('gemini', 'batches/123')");
    const response = await detail("gemini", "batches/123");
    expect(response.status).toBe(200);
    expect(response.json.job).toMatchObject({ provider: "gemini", batchId: "batches/123" });
  });

  test.each([
    ["a batch that is not tracked", "simulated", "sim_1s_completed", "", 404, "not_found"],
    ["an unknown provider", "skynet", "b1", "", 400, "unknown_provider"],
    ["an unknown kind", "simulated", "sim_1s_completed", "?kind=video", 400, "invalid_request"],
  ])("%s → $4 $5", async (_name, provider, id, query, status, code) => {
    const response = await detail(provider, id, query);
    expect(response.status).toBe(status);
    expect(response.json.error.code).toBe(code);
  });
});

describe("GET /api/batches/{provider}/{batchId}/results", () => {
  afterEach(() => setClock());

  const results = (provider: string, id: string) => {
    const { path, params } = batchPath(provider, `${id}/results`);
    return call(batch.GET, "GET", path, { params });
  };

  test("streams the results as NDJSON, one per line", async () => {
    await track({ provider: "simulated", batchId: "sim_1s_failed_5", webhookUrl: RECEIVER });
    setClock(() => Date.now() + 60_000); // Past the simulated batch's end.
    const response = await results("simulated", "sim_1s_failed_5");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/x-ndjson");
    const lines = response.text.trimEnd().split("\n").map((line) => JSON.parse(line));
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatchObject({ customId: "request-1", ok: true });
    expect(lines.at(-1)).toMatchObject({ ok: false, error: { code: "simulated_failure" } });
  });

  test("the results of a Gemini batch route to the results handler, not to a batch named …/results", async () => {
    expect((await results("gemini", "batches/123")).json.error).toEqual({
      code: "not_found",
      message: 'no gemini job "batches/123" is tracked',
    });
    await harness.db.query("INSERT INTO jobs (provider, batch_id) VALUES ('gemini', 'batches/123')");
    await withEnv({ GEMINI_API_KEY: undefined }, async () => {
      // Tracked, so the results handler asks the provider, which has no credentials here.
      const response = await results("gemini", "batches/123");
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe("provider_not_configured");
    });
  });

  test("a batch that is not tracked is 404, without asking the provider", async () => {
    const response = await results("simulated", "sim_1s_completed");
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe("not_found");
  });
});
