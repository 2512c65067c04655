import { describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import * as endpoints from "@/app/api/endpoints/route";
import { withEnv } from "../helpers/env";
import { call, useApiHarness } from "../helpers/api";

const harness = useApiHarness();

describe("a request that needs a setting which is not there", () => {
  test("creating an endpoint without BATCHWATCH_ENCRYPTION_KEY is 503 not_configured, saying what to set", async () => {
    const response = await withEnv({ BATCHWATCH_ENCRYPTION_KEY: undefined }, () =>
      call(endpoints.POST, "POST", "/api/endpoints", { body: { name: "ops", url: "http://127.0.0.1:9/hook" } }),
    );
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe("not_configured");
    expect(response.json.error.message).toMatch(/BATCHWATCH_ENCRYPTION_KEY/);
    expect(await harness.db.query("SELECT 1 FROM endpoints")).toEqual([]);
  });

  test("tracking to a webhookUrl without BATCH_WEBHOOK_SECRET is refused, naming it and the alternative", async () => {
    const response = await withEnv({ BATCH_WEBHOOK_SECRET: undefined }, () =>
      call(batches.POST, "POST", "/api/batches", {
        body: { provider: "simulated", batchId: "sim_1s_completed", webhookUrl: "http://127.0.0.1:9/hook" },
      }),
    );
    expect(response.status).toBe(503);
    expect(response.json.error).toEqual({
      code: "not_configured",
      message: expect.stringMatching(/BATCH_WEBHOOK_SECRET is not set.*named endpoint/),
    });
    expect(await harness.db.query("SELECT 1 FROM jobs")).toEqual([]);
  });
});
