import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DefaultMaxRuntime } from "inngest/types";
import { describe, expect, test } from "vitest";
import { maxDuration } from "@/app/api/inngest/route";
import { MAX_DELIVERY_TIMEOUT_MS, MAX_PROVIDER_TIMEOUT_MS, readConfig } from "@/lib/config";

/** Database reads and writes and the event sends (5 s each, inngest/send.ts) around a step's one slow request. */
const STEP_OVERHEAD_MS = 30_000;
/** Vercel's ceiling for a function's maxDuration on the Hobby plan with Fluid compute (Pro allows 800). */
const VERCEL_HOBBY_FLUID_MAX_S = 300;

describe("/api/inngest's maxDuration on Vercel", () => {
  test("is a literal number in the route's source (Next reads it at build time)", () => {
    const source = readFileSync(join(process.cwd(), "app/api/inngest/route.ts"), "utf8");
    expect(source).toMatch(new RegExp(`^export const maxDuration = ${maxDuration};$`, "m"));
  });

  test("covers the SDK's checkpointing budget plus the longest step the configuration allows", () => {
    const longestRequestMs = Math.max(MAX_DELIVERY_TIMEOUT_MS, MAX_PROVIDER_TIMEOUT_MS);
    expect(maxDuration * 1000).toBeGreaterThanOrEqual(DefaultMaxRuntime.serve + longestRequestMs + STEP_OVERHEAD_MS);
    expect(maxDuration).toBeLessThanOrEqual(VERCEL_HOBBY_FLUID_MAX_S);
  });

  test.each([
    ["BATCHWATCH_DELIVERY_TIMEOUT_MS", MAX_DELIVERY_TIMEOUT_MS],
    ["BATCHWATCH_PROVIDER_TIMEOUT_MS", MAX_PROVIDER_TIMEOUT_MS],
  ])("%s is accepted up to %i ms and refused above, naming maxDuration", (variable, max) => {
    expect(() => readConfig({ [variable]: String(max) })).not.toThrow();
    expect(() => readConfig({ [variable]: String(max + 1) })).toThrow(expect.objectContaining({ variable, message: expect.stringMatching(/at most .*maxDuration/) }));
  });
});
