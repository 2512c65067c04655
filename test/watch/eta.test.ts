import { describe, expect, test } from "vitest";
import { mulberry32 } from "@/fixtures/polling/workload";
import type { PollHistory, PollObservation, UnifiedStatus } from "@/lib/polling";
import { ETA_POLICY, estimateCompletion } from "@/lib/watch/eta";

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

/** A batch created at T0, polled at the given ages (hours) with the given progress. */
function history(polls: [hours: number, p: number | null, status?: UnifiedStatus][], extra: Partial<PollHistory> = {}): PollHistory {
  const observations: PollObservation[] = polls.map(([hours, p, status = "in_progress"]) => ({
    at: T0 + hours * H,
    status,
    requestCounts: p === null ? null : { total: 10_000, completed: Math.round(p * 10_000), failed: 0 },
  }));
  return { trackedAt: T0, createdAt: T0, expiresAt: T0 + DAY, now: observations.at(-1)?.at ?? T0, observations, ...extra };
}

/** Steady progress of 10% an hour, polled every half hour until `hours`. */
function steady(hours: number, extra: Partial<PollHistory> = {}) {
  const polls: [number, number][] = [];
  for (let h = 0.5; h <= hours + 1e-9; h += 0.5) polls.push([h, 0.1 * h]);
  return history(polls, extra);
}

describe("estimateCompletion: an ETA from the poll schedule's evidence", () => {
  test("steady progress predicts its end: the rest at the pace, plus finalizing, within a range around it", () => {
    const eta = estimateCompletion(steady(4));
    expect(eta).toMatchObject({ state: "estimated", basis: "pace", pastDeadline: false });
    if (eta?.state !== "estimated") throw new Error("unreachable");
    // 40% done after 4 h at 10%/h: requests done at 10 h, then finalizing (2.5% of 10 h = 15 min).
    expect(eta.expectedAt).toBeCloseTo(T0 + 10 * H + ETA_POLICY.finalizingShare * 10 * H, -4);
    expect(eta.earliestAt).toBeLessThan(eta.expectedAt);
    expect(eta.latestAt).toBeGreaterThan(eta.expectedAt);
    expect(eta.confidence).toBeGreaterThan(0);
    expect(eta.confidence).toBeLessThanOrEqual(1);
  });

  test.each<[string, PollHistory, string]>([
    ["no poll yet", history([]), "not_started"],
    ["still validating", history([[0.1, 0, "validating"], [0.5, 0, "validating"]]), "not_started"],
    ["a provider reporting no progress", history([[0.5, null], [1, null], [2, null]]), "no_progress_reported"],
    ["two movements", history([[0.5, 0], [1, 0.1], [1.5, 0.2]]), "pace_not_established"],
    ["a short burst late in a long life", history([[0.5, 0], [10, 0], [10.1, 0.1], [10.2, 0.2], [10.3, 0.3], [10.4, 0.4]]), "pace_not_established"],
    ["progress that stopped holding", history([[0.5, 0.05], [1, 0.1], [1.5, 0.15], [2, 0.2], [6, 0.2]]), "stalled"],
    ["every request done, not finalizing yet", history([[0.5, 0.5], [1, 1]]), "awaiting_finalizing"],
    ["cancelling", history([[0.5, 0.2], [1, 0.2, "cancelling"]]), "cancelling"],
  ])("%s: not enough evidence (%s), bounded only by the provider's deadline", (_name, h, reason) => {
    expect(estimateCompletion(h)).toEqual({ state: "not_enough_evidence", reason, latestAt: T0 + DAY });
  });

  test("a terminal batch has no ETA", () => {
    expect(estimateCompletion(history([[0.5, 0.5], [1, 1, "completed"]]))).toBeNull();
  });

  test("the time since the last poll is unobserved, not a stall", () => {
    const polled = steady(4);
    const later = estimateCompletion({ ...polled, now: polled.now + 2 * H });
    expect(later).toMatchObject({ state: "estimated", basis: "pace" });
  });

  test("never in the past: once the expected end has passed, the rest of the range is what remains", () => {
    const polled = steady(4);
    const first = estimateCompletion(polled);
    if (first?.state !== "estimated") throw new Error("expected an estimate");
    const now = first.expectedAt + 10 * MIN;
    const late = estimateCompletion({ ...polled, now });
    expect(late).toMatchObject({ state: "estimated" });
    if (late?.state !== "estimated") throw new Error("unreachable");
    expect(late.expectedAt).toBeGreaterThan(now);
    expect(late.expectedAt).toBeLessThanOrEqual(late.latestAt);
    expect(estimateCompletion({ ...polled, now: first.latestAt + H })).toMatchObject({ state: "not_enough_evidence", reason: "overdue" });
  });

  test("a pace that cannot finish in time is capped at the deadline and says so", () => {
    const eta = estimateCompletion(steady(4, { expiresAt: T0 + 6 * H }));
    expect(eta).toMatchObject({ state: "estimated", pastDeadline: true, expectedAt: T0 + 6 * H, latestAt: T0 + 6 * H });
  });

  test("finalizing: the usual allowance for a batch of its length, counted from when the phase began", () => {
    const eta = estimateCompletion(history([[1, 0.5], [9.5, 1], [10, 1, "finalizing"]]));
    expect(eta).toMatchObject({ state: "estimated", basis: "finalizing" });
    if (eta?.state !== "estimated") throw new Error("unreachable");
    const [lo, hi] = ETA_POLICY.finalizingShareRange;
    expect(eta.earliestAt).toBeGreaterThanOrEqual(T0 + 9.5 * H + lo * 9.5 * H);
    expect(eta.latestAt).toBeLessThanOrEqual(T0 + 10 * H + hi * 10 * H);
    expect(eta.earliestAt).toBeLessThanOrEqual(eta.expectedAt);
  });

  test("finalizing far longer than usual: the range stays open instead of collapsing to now", () => {
    const polled = history([[1, 0.5], [9.5, 1], [10, 1, "finalizing"], [14, 1, "finalizing"]]);
    const eta = estimateCompletion(polled);
    if (eta?.state !== "estimated") throw new Error("expected an estimate");
    expect(eta.latestAt - polled.now).toBeGreaterThanOrEqual(4 * H);
    expect(eta.expectedAt).toBeGreaterThan(polled.now);
  });

  test("total: any history, however malformed, gives null or a well-formed answer", () => {
    const rand = mulberry32(17);
    const statuses: UnifiedStatus[] = ["validating", "in_progress", "finalizing", "completed", "cancelling"];
    const odd = [NaN, Infinity, -1, 0, 1e15];
    for (let i = 0; i < 2_000; i++) {
      const n = Math.floor(rand() * 12);
      const observations: PollObservation[] = [];
      let at = T0;
      for (let k = 0; k < n; k++) {
        at += (rand() < 0.1 ? -1 : 1) * rand() * 2 * H;
        const total = rand() < 0.1 ? odd[Math.floor(rand() * odd.length)]! : 1 + Math.floor(rand() * 1000);
        observations.push({
          at: rand() < 0.05 ? NaN : at,
          status: statuses[Math.floor(rand() * statuses.length)]!,
          requestCounts: rand() < 0.2 ? null : { total, completed: Math.floor(rand() * total * 1.2), failed: 0 },
          progress: rand() < 0.1 ? rand() * 150 : undefined,
        });
      }
      const h: PollHistory = {
        trackedAt: rand() < 0.1 ? NaN : T0,
        createdAt: rand() < 0.3 ? undefined : T0 - rand() * DAY,
        expiresAt: rand() < 0.3 ? undefined : T0 + rand() * 2 * DAY,
        now: rand() < 0.05 ? NaN : at + rand() * H,
        observations,
      };
      const eta = estimateCompletion(h);
      if (eta === null || eta.state === "not_enough_evidence") continue;
      for (const t of [eta.expectedAt, eta.earliestAt, eta.latestAt, eta.confidence]) expect(Number.isFinite(t)).toBe(true);
      expect(eta.earliestAt).toBeLessThanOrEqual(eta.expectedAt);
      expect(eta.expectedAt).toBeLessThanOrEqual(eta.latestAt);
    }
  });
});
