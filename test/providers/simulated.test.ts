import { afterEach, describe, expect, test } from "vitest";
import { createSimulatedProvider, getProvider, type UnifiedStatus } from "@/lib/providers";
import { parseSimulatedId, simulatedStateAt } from "@/lib/providers/simulated";
import { collect } from "./helpers/collect";
import { restoreEnv, setEnv } from "./helpers/env";

/** The simulated provider runs on an injected clock, so these tests move time by hand. */

afterEach(restoreEnv);

function frozenClock(start = Date.parse("2026-01-01T00:00:00Z")) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms), start };
}

describe("ids", () => {
  test.each([
    ["sim_90s_completed_100", { durationMs: 90_000, outcome: "completed", total: 100, failedShare: 0 }],
    ["sim_10m_failed", { durationMs: 600_000, outcome: "failed", total: 100, failedShare: 0.2 }],
    ["sim_2h_expired_7", { durationMs: 7_200_000, outcome: "expired", total: 7, failedShare: 0 }],
    ["sim_3d_cancelled_1000", { durationMs: 259_200_000, outcome: "cancelled", total: 1000, failedShare: 0 }],
    ["sim_90s_completed_10_f100", { durationMs: 90_000, outcome: "completed", total: 10, failedShare: 1 }],
    ["sim_90s_completed_10_f30", { durationMs: 90_000, outcome: "completed", total: 10, failedShare: 0.3 }],
    ["sim_4m_completed_10_q50", { durationMs: 240_000, outcome: "completed", total: 10, failedShare: 0, validatingShare: 0.5 }],
    ["sim_4h_completed_100_p30-70", { durationMs: 14_400_000, outcome: "completed", total: 100, failedShare: 0, pause: [0.3, 0.7] }],
  ])("parses %s", (id, spec) => {
    expect(parseSimulatedId(id)).toEqual(spec);
  });

  test.each(["sim_90s", "sim_90x_completed", "sim_90s_exploded", "batch_abc", "sim_0s_completed", "sim_8d_completed", "sim_90s_completed_0", "sim_90s_completed_100_extra", "sim_90s_completed_100_f101", "sim_4h_completed_100_p70-30", "sim_4h_completed_100_q50_p40-60"])(
    "refuses %s as not_found",
    async (id) => {
      const provider = createSimulatedProvider();
      await expect(provider.retrieve(id)).rejects.toMatchObject({ code: "not_found" });
    },
  );
});

describe("timeline of sim_100s_<outcome>_100", () => {
  // validating lasts min(5 s, 5 %) = 5 s; finalizing is the last 5 % (95 s → 100 s).
  test.each<[string, number, UnifiedStatus]>([
    ["completed", 0, "validating"],
    ["completed", 4_999, "validating"],
    ["completed", 5_000, "in_progress"],
    ["completed", 50_000, "in_progress"],
    ["completed", 95_000, "finalizing"],
    ["completed", 100_000, "completed"],
    ["failed", 100_000, "failed"],
    ["expired", 100_000, "expired"],
    ["cancelled", 95_000, "cancelling"],
    ["cancelled", 100_000, "cancelled"],
  ])("%s outcome is at status after %i ms: %s", async (outcome, elapsed, status) => {
    const clock = frozenClock();
    const provider = createSimulatedProvider({ now: clock.now });
    const snapshot = await provider.retrieve(`sim_100s_${outcome}_100`, { trackedAt: clock.start - elapsed });
    expect(snapshot.status).toBe(status);
    expect(snapshot.terminal).toBe(elapsed >= 100_000);
  });

  test("counts rise linearly while in progress", async () => {
    const clock = frozenClock();
    const provider = createSimulatedProvider({ now: clock.now });
    const id = "sim_100s_completed_100";
    const seen: number[] = [];
    for (const elapsed of [5_000, 27_500, 50_000, 72_500, 95_000]) {
      const snapshot = await provider.retrieve(id, { trackedAt: clock.start - elapsed });
      seen.push(snapshot.requestCounts!.completed);
    }
    expect(seen).toEqual([0, 25, 50, 75, 100]);
  });

  test.each([
    ["completed", { total: 100, completed: 100, failed: 0, processing: 0 }],
    ["failed", { total: 100, completed: 80, failed: 20, processing: 0 }],
    ["expired", { total: 100, completed: 80, failed: 0, expired: 20, processing: 0 }],
    ["cancelled", { total: 100, completed: 60, failed: 0, cancelled: 40, processing: 0 }],
  ])("ends %s with counts %o", async (outcome, counts) => {
    const provider = createSimulatedProvider({ now: frozenClock().now });
    const snapshot = await provider.retrieve(`sim_100s_${outcome}_100`, { trackedAt: 0 });
    expect(snapshot.requestCounts).toEqual(counts);
    expect(snapshot.progress).toBe(1);
    expect(snapshot.endedAt).not.toBeNull();
  });
});

test("measures time from the first sighting when no trackedAt is given", async () => {
  const clock = frozenClock();
  const provider = createSimulatedProvider({ now: clock.now });
  const id = "sim_60s_completed_10";

  expect((await provider.retrieve(id)).status).toBe("validating");
  clock.advance(30_000);
  const halfway = await provider.retrieve(id);
  expect(halfway.status).toBe("in_progress");
  expect(halfway.createdAt).toBe(new Date(clock.start).toISOString());
  clock.advance(30_000);
  expect((await provider.retrieve(id)).status).toBe("completed");
});

test("yields one synthetic result per request of a completed batch", async () => {
  const provider = createSimulatedProvider({ now: frozenClock().now });
  const results = await collect(provider.results("sim_10s_completed_250", { trackedAt: 0 }));
  expect(results).toHaveLength(250);
  expect(results.every((result) => result.ok)).toBe(true);
  expect(results[0]).toMatchObject({ customId: "request-1" });
  expect(results[249]).toMatchObject({ customId: "request-250" });
});

test("fails some requests of a failed batch", async () => {
  const provider = createSimulatedProvider({ now: frozenClock().now });
  const results = await collect(provider.results("sim_10s_failed_50", { trackedAt: 0 }));
  expect(results.filter((result) => !result.ok)).toHaveLength(10);
  expect(results.find((result) => !result.ok)).toMatchObject({ error: { code: "simulated_failure" } });
});

test("is refused unless BATCHWATCH_SIMULATED_PROVIDER=1", async () => {
  setEnv({ BATCHWATCH_SIMULATED_PROVIDER: undefined });
  const provider = getProvider("simulated");
  expect(() => provider.assertConfigured()).toThrow(expect.objectContaining({ code: "not_enabled" }));
  await expect(provider.retrieve("sim_90s_completed_100")).rejects.toMatchObject({ code: "not_enabled" });

  setEnv({ BATCHWATCH_SIMULATED_PROVIDER: "1" });
  expect(() => provider.assertConfigured()).not.toThrow();
  await expect(provider.retrieve("sim_90s_completed_100")).resolves.toMatchObject({ provider: "simulated" });
});

describe("a queued or paused simulated batch", () => {
  const at = (id: string, elapsedMs: number) => simulatedStateAt(parseSimulatedId(id), elapsedMs);
  test("_q50 stays validating for half the run, then runs to the end", () => {
    expect(at("sim_100s_completed_100_q50", 49_000).status).toBe("validating");
    expect(at("sim_100s_completed_100_q50", 51_000).status).toBe("in_progress");
    expect(at("sim_100s_completed_100", 51_000).counts.completed).toBeGreaterThan(at("sim_100s_completed_100_q50", 51_000).counts.completed);
  });

  test("_p30-70 holds its progress from 30 % to 70 % of the run, then catches up before finalizing", () => {
    const id = "sim_100s_completed_100_p30-70";
    const frozen = at(id, 30_000).counts.completed;
    expect(frozen).toBeGreaterThan(0);
    expect([40_000, 55_000, 69_999].map((ms) => at(id, ms).counts.completed)).toEqual([frozen, frozen, frozen]);
    expect(at(id, 80_000).counts.completed).toBeGreaterThan(frozen);
    expect(at(id, 95_000)).toMatchObject({ status: "finalizing", counts: { completed: 100 } });
  });
});
