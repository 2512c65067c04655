import { describe, expect, test } from "vitest";
import { unifiedEventFor } from "@/lib/deliver/create-deliveries";
import type { JobRow } from "@/lib/jobs/store";

const SETTLED = new Date("2026-11-30T12:00:00Z");

/** A settled job row with only what the event is built from. */
function settledJob(fields: Partial<JobRow>): JobRow {
  return {
    provider: "xai",
    kind: "batch",
    batch_id: "batch_1",
    status: "failed",
    outcome: "failed",
    provider_status: "failed",
    settle_reason: null,
    request_counts: null,
    provider_created_at: null,
    provider_ended_at: SETTLED,
    settled_at: SETTLED,
    detail: null,
    results: null,
    ...fields,
  } as JobRow;
}

describe("the unified event's detail", () => {
  test.each([
    ["a batch without provider detail has no detail field", settledJob({}), undefined],
    [
      "a batch xAI refused carries xAI's message",
      settledJob({ detail: { error: { message: "Model grok-4.6 is not supported for batch processing." } } }),
      { error: { message: "Model grok-4.6 is not supported for batch processing." } },
    ],
    [
      "another kind always carries detail, null when empty",
      settledJob({ provider: "openai", kind: "fine_tuning_job", status: "completed", outcome: "completed", provider_status: "succeeded" }),
      null,
    ],
  ])("%s", (_name, job, detail) => {
    const event = unifiedEventFor(job, {});
    if (detail === undefined) expect(event).not.toHaveProperty("detail");
    else expect(event.detail).toEqual(detail);
  });
});
