import { describe, expect, test } from "vitest";
import { fixedIntervalOutcome, simulateSchedule } from "@/fixtures/polling/simulate";
import { BENCH_WORKLOADS, generateWorkload, mulberry32, WORKLOAD_VARIANTS } from "@/fixtures/polling/workload";
import {
  compactObservations,
  estimateProgress,
  MAX_POLL_DELAY_MS,
  MIN_POLL_DELAY_MS,
  nextPollDelay,
  pollScheduleWith,
  POLLING_POLICY,
  type PollHistory,
  type PollObservation,
  type UnifiedStatus,
} from "@/lib/polling";

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;
/** A fixed clock: every history is built around this instant. */
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);

const STATUSES: UnifiedStatus[] = ["validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"];

function counts(done: number, total = 100_000) {
  return { total, completed: done, failed: 0 };
}

/** A batch created at T0 and observed at the given ages with the given progress fractions. */
function history(
  polls: { age: number; status?: UnifiedStatus; p?: number | null; total?: number }[],
  extra: Partial<PollHistory> = {},
): PollHistory {
  const observations: PollObservation[] = polls.map(({ age, status = "in_progress", p = null, total = 100_000 }) => ({
    at: T0 + age,
    status,
    requestCounts: p === null ? null : counts(Math.round(p * total), total),
  }));
  const last = observations[observations.length - 1];
  return { trackedAt: T0, createdAt: T0, now: last ? last.at : T0, observations, ...extra };
}

/** Drives the policy against a model of the batch (status and progress at time t), from T0. */
function drive(model: (t: number) => { status: UnifiedStatus; p: number | null }, until: number, extra: Partial<PollHistory> = {}) {
  const observations: PollObservation[] = [];
  const polls: { at: number; status: UnifiedStatus; delay: number }[] = [];
  let t = T0 + 20 * S;
  while (t < until && polls.length < 10_000) {
    const { status, p } = model(t);
    observations.push({ at: t, status, requestCounts: p === null ? null : counts(Math.round(p * 100_000)) });
    const delay = nextPollDelay({ trackedAt: T0, createdAt: T0, now: t, observations, ...extra });
    polls.push({ at: t, status, delay });
    if (status === "completed" || status === "failed" || status === "expired" || status === "cancelled") break;
    t += delay;
  }
  return polls;
}

/** The watch window of a batch of this age: the wait with nothing better to go on. */
const windowAt = (age: number) => POLLING_POLICY.windowBaseMs + POLLING_POLICY.windowAgeFraction * age;

const inBounds = (d: number) => Number.isInteger(d) && d >= MIN_POLL_DELAY_MS && d <= MAX_POLL_DELAY_MS;

/** Random, often malformed histories, from a seeded PRNG. */
function randomHistory(rand: () => number): PollHistory {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const odd = [NaN, Infinity, -Infinity, -5, 0, 1e18, -1e18];
  const num = (normal: () => number) => (rand() < 0.08 ? pick(odd) : normal());
  const createdAt = T0 - Math.floor(rand() * 3 * DAY);
  const n = Math.floor(rand() * 25);
  const observations: PollObservation[] = [];
  let at = createdAt + Math.floor(rand() * 2 * MIN);
  for (let i = 0; i < n; i++) {
    at += Math.floor((rand() < 0.1 ? -1 : 1) * rand() * 3 * H); // sometimes backwards
    const total = num(() => pick([0, 1, 7, 100, 50_000]));
    const done = num(() => Math.floor(rand() * 1.2 * (Number.isFinite(total) ? Math.abs(total) : 10)));
    const kind = rand();
    observations.push({
      at: num(() => at),
      status: pick(STATUSES),
      requestCounts: kind < 0.5 ? { total, completed: done, failed: num(() => Math.floor(rand() * 3)) } : kind < 0.6 ? null : undefined,
      progress: kind >= 0.6 && kind < 0.9 ? num(() => pick([rand(), rand() * 100, -rand(), 1, 0])) : kind < 0.95 ? null : undefined,
    });
  }
  return {
    trackedAt: num(() => createdAt + Math.floor(rand() * MIN)),
    now: num(() => at + Math.floor((rand() - 0.2) * 10 * MIN)), // sometimes before the last observation
    nativeSignals: rand() < 0.3,
    createdAt: rand() < 0.2 ? undefined : num(() => (rand() < 0.1 ? T0 + DAY : createdAt)), // sometimes in the future
    expiresAt: rand() < 0.3 ? undefined : num(() => createdAt + pick([1, 24, 72]) * H),
    observations,
  };
}

describe("nextPollDelay: bounds and totality", () => {
  test("returns whole milliseconds within [1 s, 6 h] for 20,000 random (often malformed) histories", () => {
    const rand = mulberry32(20260301);
    for (let i = 0; i < 20_000; i++) {
      const h = randomHistory(rand);
      const d = nextPollDelay(h);
      if (!inBounds(d)) throw new Error(`out of bounds: ${d} for ${JSON.stringify(h)}`);
    }
  });

  test("never sleeps past expiresAt + 30 s in a random sweep", () => {
    const rand = mulberry32(7);
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      const h = randomHistory(rand);
      const d = nextPollDelay(h);
      if (Number.isFinite(h.now) && Number.isFinite(h.expiresAt) && h.observations.length > 0) {
        const deadline = (h.expiresAt as number) + POLLING_POLICY.expiryMarginMs;
        if (h.now < deadline) {
          checked++;
          expect(h.now + d).toBeLessThanOrEqual(Math.max(deadline, h.now + MIN_POLL_DELAY_MS));
        }
      }
    }
    expect(checked).toBeGreaterThan(1_000);
  });

  test.each([
    ["no observations", { trackedAt: T0, now: T0, observations: [] }],
    ["observations not an array", { trackedAt: T0, now: T0, observations: null as unknown as PollObservation[] }],
    ["null and garbage entries", { trackedAt: T0, now: T0, observations: [null, 42, "x", { at: NaN, status: "in_progress" }] as unknown as PollObservation[] }],
    ["counts with a total of 0", history([{ age: 10 * MIN, p: null }, { age: 11 * MIN, status: "in_progress" }], { observations: [{ at: T0 + 11 * MIN, status: "in_progress", requestCounts: { total: 0, completed: 0, failed: 0 } }] })],
    ["completed > total, negative failed", history([], { now: T0 + H, observations: [{ at: T0 + H, status: "in_progress", requestCounts: { total: 10, completed: 50, failed: -3 } }] })],
    ["progress going backwards", history([{ age: 1 * H, p: 0.5 }, { age: 2 * H, p: 0.7 }, { age: 3 * H, p: 0.2 }])],
    ["clock behind the last observation", history([{ age: 1 * H, p: 0.1 }, { age: 2 * H, p: 0.2 }], { now: T0 + 1 * H })],
    ["createdAt in the future", history([{ age: 5 * MIN, p: 0.01 }], { createdAt: T0 + 10 * DAY })],
    ["trackedAt and now NaN", history([{ age: 5 * MIN, p: 0.01 }], { trackedAt: NaN, now: NaN })],
    ["expiresAt long past, still in progress", history([{ age: 30 * H, p: 0.4 }], { expiresAt: T0 + DAY })],
    ["percent progress", { trackedAt: T0, now: T0 + H, observations: [{ at: T0 + 30 * MIN, status: "in_progress", progress: 20 }, { at: T0 + H, status: "in_progress", progress: 40 }] }],
    ["NaN progress and unknown status", { trackedAt: T0, now: T0 + H, observations: [{ at: T0 + H, status: "paused" as UnifiedStatus, progress: NaN }] }],
  ] as [string, PollHistory][])("odd input: %s → a bounded whole delay", (_label, h) => {
    const d = nextPollDelay(h);
    expect(inBounds(d)).toBe(true);
  });

  test("empty observations get a short delay", () => {
    expect(nextPollDelay({ trackedAt: T0, now: T0, observations: [] })).toBeLessThanOrEqual(30 * S);
  });

  test("estimateProgress is total too: finite numbers or nulls, confidence in [0, 1]", () => {
    const rand = mulberry32(424242);
    for (let i = 0; i < 5_000; i++) {
      const h = randomHistory(rand);
      const e = estimateProgress(h);
      const numbers = [e.quantum, e.stalledForMs, e.movements, e.evidenceMs, e.pace, e.spread, e.confidence];
      const times = [e.progress, e.lastMovedAt, e.lastMovedAfter, e.expectedDoneAt, e.earliestDoneAt, e.latestDoneAt];
      if (!numbers.every(Number.isFinite) || !times.every((x) => x === null || Number.isFinite(x)) || e.confidence < 0 || e.confidence > 1) {
        throw new Error(`bad estimate ${JSON.stringify(e)} for ${JSON.stringify(h)}`);
      }
    }
  });

  test("a batch already terminal gets the longest delay (callers stop polling it)", () => {
    for (const status of ["completed", "failed", "expired", "cancelled"] as const) {
      expect(nextPollDelay(history([{ age: H, status, p: 1 }]))).toBe(MAX_POLL_DELAY_MS);
    }
  });
});

describe("nextPollDelay: determinism", () => {
  test("the same input gives the same output and the input is not modified", () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 500; i++) {
      const h = randomHistory(rand);
      const before = JSON.stringify(h);
      const a = nextPollDelay(h);
      expect(JSON.stringify(h)).toBe(before);
      expect(nextPollDelay(h)).toBe(a);
      expect(nextPollDelay(structuredClone(h))).toBe(a);
    }
  });

  test.each([
    ["steady progress", history([{ age: 10 * MIN, p: 0.01 }, { age: 1 * H, p: 0.08 }, { age: 2 * H, p: 0.17 }])],
    ["stalled", history([{ age: 1 * H, p: 0.3 }, { age: 2 * H, p: 0.3 }, { age: 3 * H, p: 0.3 }])],
    ["finalizing", history([{ age: 5 * H, p: 1, status: "finalizing" }])],
  ] as [string, PollHistory][])("%s: repeated calls agree", (_label, h) => {
    const first = nextPollDelay(h);
    for (let i = 0; i < 5; i++) expect(nextPollDelay(structuredClone(h))).toBe(first);
  });
});


describe("pollScheduleWith: the same schedule with a knob changed (what the bench's --frontier measures)", () => {
  test("with nothing changed it is nextPollDelay, on 5,000 random histories", () => {
    const rand = mulberry32(31337);
    const same = pollScheduleWith({});
    for (let i = 0; i < 5_000; i++) {
      const h = randomHistory(rand);
      if (same(h) !== nextPollDelay(h)) throw new Error(`differs for ${JSON.stringify(h)}`);
    }
  });

  test.each([
    ["a wider watch window", { windowAgeFraction: 0.03 }, history([{ age: 5 * H, p: 0 }, { age: 6 * H, p: 0 }]), 55 * S + 0.03 * 6 * H],
    ["a longer base", { windowBaseMs: 65 * S }, history([{ age: 5 * H, p: 0 }, { age: 6 * H, p: 0 }]), 65 * S + 0.015 * 6 * H],
    ["finalizing polled less often", { briskMaxMs: 60 * S, briskGrowth: 0 }, history([{ age: 5 * H, p: 0.9 }, { age: 6 * H, status: "finalizing", p: 1 }]), 60 * S],
  ] as [string, Parameters<typeof pollScheduleWith>[0], PollHistory, number][])("%s: the knob changes the wait", (_label, overrides, h, expected) => {
    expect(pollScheduleWith(overrides)(h)).toBe(Math.round(expected));
    expect(nextPollDelay(h)).not.toBe(Math.round(expected));
  });
});

/** Observations at the given ages (hours) with the given progress fractions. */
const at = (points: [hours: number, p: number | null][], extra: Partial<PollHistory> = {}) =>
  history(points.map(([hours, p]) => ({ age: hours * H, p })), extra);

describe("nextPollDelay: finalizing and cancelling are polled briskly", () => {
  test.each([
    ["finalizing", 3 * MIN],
    ["finalizing", 1 * H],
    ["finalizing", 20 * H],
    ["finalizing", 3 * DAY],
    ["cancelling", 10 * MIN],
    ["cancelling", 2 * DAY],
  ] as [UnifiedStatus, number][])("%s at age %i ms: at most 55 s", (status, age) => {
    const d = nextPollDelay(history([{ age: age / 2, p: 0.5 }, { age, status, p: 1 }]));
    expect(d).toBeLessThanOrEqual(POLLING_POLICY.briskMaxMs);
    expect(d).toBeGreaterThanOrEqual(POLLING_POLICY.briskMinMs);
  });

  test("young finalizing batches are polled within seconds", () => {
    expect(nextPollDelay(history([{ age: 90 * S, status: "finalizing", p: 1 }]))).toBeLessThanOrEqual(10 * S);
  });

  test("a long finalizing phase is polled a little less briskly: 55 s plus 0.2% of how long it has lasted", () => {
    const h = history([{ age: 19 * H, p: 0.99 }, { age: 20 * H, status: "finalizing", p: 1 }, { age: 23 * H, status: "finalizing", p: 1 }]);
    expect(nextPollDelay(h)).toBe(Math.round(POLLING_POLICY.briskMaxMs + POLLING_POLICY.briskGrowth * 3 * H));
  });
});

describe("nextPollDelay: with nothing to go on, the wait is the watch window of the batch's age", () => {
  test.each([
    ["validating", 2 * MIN, "validating", null],
    ["status only (no progress reported)", 6 * H, "in_progress", null],
    ["queued at 0", 5 * H, "in_progress", 0],
    ["all requests done, still in progress", 10 * H, "in_progress", 1],
    ["stalled at 70%, three days old", 3 * DAY, "in_progress", 0.7],
  ] as [string, number, UnifiedStatus, number | null][])("%s at age %i ms → 55 s + 1.5 percent of the age", (_label, age, status, p) => {
    const h = history([{ age: age * 0.8, status, p }, { age: age * 0.9, status, p }, { age, status, p }]);
    expect(nextPollDelay(h)).toBe(Math.round(windowAt(age)));
  });

  test.each([
    ["validating", 20 * S, null],
    ["validating", 2 * MIN, null],
    ["in_progress", 90 * S, 0],
    ["in_progress", 3 * MIN, 0],
    ["in_progress", 3 * MIN, 0.02],
  ] as [UnifiedStatus, number, number | null][])("young: %s at age %i ms is polled about once a minute", (status, age, p) => {
    const h = history([{ age: age / 3, status: "validating" }, { age: (2 * age) / 3, status, p }, { age, status, p }]);
    expect(nextPollDelay(h)).toBeLessThanOrEqual(60 * S);
  });

  test("driven through a day-long stall, every wait is the window of the batch's age, never more", () => {
    // Steadily to 30% over two hours, then nothing moves for the rest of the day.
    const model = (t: number) => ({ status: "in_progress" as const, p: Math.min(0.3, (0.3 * (t - T0)) / (2 * H)) });
    const polls = drive(model, T0 + DAY).filter((p) => p.at > T0 + 3 * H);
    expect(polls.length).toBeGreaterThan(20);
    for (const p of polls) expect(p.delay).toBe(Math.round(windowAt(p.at - T0)));
  });
});

describe("estimateProgress: a pace is trusted only as far as the evidence", () => {
  // 100,000 requests at 10% an hour from T0: all done 10 h after creation.
  const steady = (hours: number[]) => at(hours.map((h) => [h, 0.1 * h]));

  test("steady progress: the expected end is the true one, inside the plausible range", () => {
    const e = estimateProgress(steady([1, 2, 3, 4, 5]));
    expect(Math.abs((e.expectedDoneAt as number) - (T0 + 10 * H))).toBeLessThan(MIN);
    expect(e.earliestDoneAt as number).toBeLessThanOrEqual(T0 + 10 * H);
    expect(e.latestDoneAt as number).toBeGreaterThanOrEqual(T0 + 10 * H);
    expect(e.confidence).toBeGreaterThan(0.9);
    expect(e.movements).toBe(4);
  });

  test("the range narrows as the evidence grows", () => {
    const few = estimateProgress(at([[1, 0.1], [1.5, 0.16], [2, 0.19], [2.5, 0.25]]));
    const many = estimateProgress(at([[1, 0.1], [1.5, 0.16], [2, 0.19], [2.5, 0.25], [3, 0.31], [3.5, 0.34], [4, 0.4], [4.5, 0.46], [5, 0.49]]));
    expect(few.confidence).toBeGreaterThan(0);
    expect(many.confidence).toBeGreaterThan(few.confidence);
  });

  test.each([
    ["one jump", [[1, 0], [3, 0], [4, 0.4], [6, 0.4]]],
    ["two jumps", [[1, 0], [3, 0.3], [5, 0.3], [7, 0.3], [8, 0.6]]],
    ["jumps between flat runs longer than their pace explains", [[1, 0.1], [2, 0.1], [3, 0.1], [4, 0.3], [5, 0.3], [6, 0.3], [7, 0.5], [8, 0.5], [9, 0.5], [10, 0.6]]],
    ["steady, then flat for longer than the pace explains", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.4], [6.5, 0.4]]],
    ["a burst after a stall (measured afresh)", [[1, 0.1], [2, 0.2], [3, 0.3], [6, 0.3], [7, 0.6]]],
  ] as [string, [number, number][]][])("%s: no prediction, so the wait is the watch window", (_label, points) => {
    const h = at(points);
    const e = estimateProgress(h);
    expect(e.earliestDoneAt).toBeNull();
    expect(e.confidence).toBe(0);
    expect(nextPollDelay(h)).toBe(Math.round(windowAt(h.now - T0)));
  });

  test("a stall is reported with how long progress has stood still", () => {
    const e = estimateProgress(at([[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.4], [6.5, 0.4]]));
    expect(e.stalledForMs).toBe(2.5 * H);
    expect(e.lastMovedAt).toBe(T0 + 4 * H);
    expect(e.lastMovedAfter).toBe(T0 + 3 * H);
  });

  test("all requests done: the work is done now", () => {
    const h = at([[1, 0.5], [2, 1]]);
    expect(estimateProgress(h)).toMatchObject({ progress: 1, expectedDoneAt: h.now, earliestDoneAt: h.now, confidence: 1 });
  });

  test("progress going backwards (a recount) is measured again from the recount", () => {
    const e = estimateProgress(at([[1, 0.3], [2, 0.6], [3, 0.2], [4, 0.3], [5, 0.4], [6, 0.5]]));
    expect(e.movements).toBe(3);
    expect(e.pace).toBeCloseTo(0.1 / H, 12);
  });
});

describe("nextPollDelay: a trusted prediction only ever lengthens the wait", () => {
  const steady = (hours: number[]) => at(hours.map((h) => [h, 0.1 * h]));

  test.each([
    [[1, 2, 3, 4], 6 * H],
    [[4, 5, 6], 4 * H],
    [[7, 8, 9], 1 * H],
    [[9, 9.5, 9.8], 12 * MIN],
  ] as [number[], number][])("at hours %j: longer than the window, shorter than what is left (%i ms) and than a quarter of the age", (hours, remaining) => {
    const h = steady(hours);
    const d = nextPollDelay(h);
    expect(d).toBeGreaterThanOrEqual(Math.round(windowAt(h.now - T0)));
    expect(d).toBeLessThanOrEqual(remaining);
    expect(d).toBeLessThanOrEqual(POLLING_POLICY.trustedAgeFraction * (h.now - T0) + 1);
  });

  // 10% an hour, polled hourly; then the latest poll sees the pace contradicted, or merely varied.
  test.each([
    ["a stall starting: 1% in the last hour", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.41]], true],
    ["a burst: 35% in the last hour", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.75]], true],
    ["a burst seen across two hours", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [6, 0.9]], true],
    ["20% slower", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.48]], false],
    ["50% faster", [[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.55]], false],
    ["jumps all along: a jump is what its spread predicts", [[1, 0.02], [2, 0.15], [3, 0.16], [4, 0.3], [5, 0.31], [6, 0.45]], false],
  ] as [string, [number, number][], boolean][])("%s: contradicted %s", (_label, points, contradicted) => {
    const h = at(points);
    expect(estimateProgress(h).contradicted).toBe(contradicted);
    if (contradicted) expect(nextPollDelay(h)).toBe(Math.round(windowAt(h.now - T0)));
    else expect(nextPollDelay(h)).toBeGreaterThanOrEqual(Math.round(windowAt(h.now - T0)));
  });

  test("a contradicted pace still gives the ETA its prediction; it only lengthens no wait", () => {
    const e = estimateProgress(at([[1, 0.1], [2, 0.2], [3, 0.3], [4, 0.4], [5, 0.41]]));
    expect(e.contradicted).toBe(true);
    expect(e.expectedDoneAt).not.toBeNull();
  });

  test("far from its end, a steady batch waits well beyond the window", () => {
    const h = steady([1, 2, 3, 4]);
    expect(nextPollDelay(h)).toBeGreaterThan(3 * windowAt(h.now - T0));
  });

  test("driven over a whole steady 10-hour batch, it sees finalizing soon after it starts, with few polls", () => {
    // Finalizing for 10 minutes after the 10-hour run, then completed.
    const model = (t: number) => {
      const age = t - T0;
      if (age >= 10 * H + 10 * MIN) return { status: "completed" as const, p: 1 };
      if (age >= 10 * H) return { status: "finalizing" as const, p: 1 };
      return { status: "in_progress" as const, p: age / (10 * H) };
    };
    const polls = drive(model, T0 + 2 * DAY);
    const firstFinalizing = polls.find((p) => p.status === "finalizing");
    const done = polls[polls.length - 1];
    expect(firstFinalizing!.at - (T0 + 10 * H)).toBeLessThanOrEqual(windowAt(10 * H));
    expect(done.status).toBe("completed");
    expect(done.at - (T0 + 10 * H + 10 * MIN)).toBeLessThanOrEqual(POLLING_POLICY.briskMaxMs);
    expect(polls.length).toBeLessThan(50); // a 60 s poll makes 610
  });

  test("a steady batch that stops for good is back at the window at once, and never polled faster", () => {
    const model = (t: number) => ({ status: "in_progress" as const, p: Math.min(0.6, (t - T0) / (10 * H)) });
    const polls = drive(model, T0 + 2 * DAY, { expiresAt: T0 + 2 * DAY });
    const afterStop = polls.filter((p) => p.at > T0 + 6 * H);
    const firstBack = afterStop.findIndex((p) => p.delay === Math.round(windowAt(p.at - T0)));
    expect(firstBack).toBeLessThanOrEqual(1);
    for (const p of afterStop.slice(firstBack)) expect(p.delay).toBeGreaterThanOrEqual(Math.min(Math.round(windowAt(p.at - T0)), T0 + 2 * DAY + 30 * S - p.at));
  });

  /** A batch created at T0 whose progress jumps at the given hours, then finalizes for `finalizing` ms. */
  const jumps = (steps: [hours: number, p: number][], finalizing: number) => {
    const doneAt = T0 + steps[steps.length - 1][0] * H;
    return (t: number) => {
      if (t >= doneAt + finalizing) return { status: "completed" as const, p: 1 };
      if (t >= doneAt) return { status: "finalizing" as const, p: 1 };
      let p = 0;
      for (const [hours, value] of steps) if (t >= T0 + hours * H) p = value;
      return { status: "in_progress" as const, p };
    };
  };

  // Finalizing lasts 2% of the run: longer than the window of a batch that age (1.5% + 55 s).
  test.each([
    ["a three-day batch with two jumps", [[20, 0.5], [50, 0.8], [70, 1]]],
    ["a day-long batch with thirty jumps", Array.from({ length: 30 }, (_, i) => [0.8 * (i + 1), (i + 1) / 30])],
    ["a day-long batch queued at 0, then all at once", [[23, 1]]],
  ] as [string, [number, number][]][])("%s: under 500 polls, noticed within a minute of its end", (_label, steps) => {
    const finalizing = 0.02 * steps[steps.length - 1][0] * H;
    const polls = drive(jumps(steps, finalizing), T0 + 4 * DAY);
    const end = T0 + steps[steps.length - 1][0] * H + finalizing;
    expect(polls.length).toBeLessThan(500);
    expect(polls[polls.length - 1].status).toBe("completed");
    expect(polls[polls.length - 1].at - end).toBeLessThanOrEqual(60 * S);
  });
});

describe("compactObservations: keeps what the schedule reads", () => {
  const obs = (hours: number, p: number | null, status: UnifiedStatus = "in_progress"): PollObservation => ({
    at: T0 + hours * H,
    status,
    requestCounts: p === null ? null : counts(Math.round(p * 100_000)),
  });

  test.each([
    ["empty", [], []],
    ["one", [obs(1, 0)], [0]],
    ["no repeats", [obs(1, 0), obs(2, 0.1), obs(3, 0.2)], [0, 1, 2]],
    ["a flat run keeps its ends", [obs(1, 0.1), obs(2, 0.1), obs(3, 0.1), obs(4, 0.1), obs(5, 0.2)], [0, 3, 4]],
    ["the current flat run keeps its first and the latest", [obs(1, 0), obs(2, 0.1), obs(3, 0.1), obs(4, 0.1)], [0, 1, 3]],
    ["a status change is a change", [obs(1, 1), obs(2, 1), obs(3, 1, "finalizing"), obs(4, 1, "finalizing")], [0, 1, 2, 3]],
  ] as [string, PollObservation[], number[]][])("%s", (_label, input, keptIndexes) => {
    expect(compactObservations(input)).toEqual(keptIndexes.map((i) => input[i]));
  });

  test("is idempotent, and beyond the limit keeps the first and the latest", () => {
    const input = Array.from({ length: 300 }, (_, i) => obs(i, Math.floor(i / 3) / 100));
    const once = compactObservations(input);
    expect(compactObservations(once)).toEqual(once);
    expect(once).toHaveLength(POLLING_POLICY.historyLimit);
    expect(once[0]).toBe(input[0]);
    expect(once[once.length - 1]).toBe(input[input.length - 1]);
  });

  test("the schedule and the estimate read the compacted history as they read the whole one", () => {
    let compared = 0;
    const differences: string[] = [];
    for (const variant of ["default", "bursty", "bursty-many", "coarse-counts"]) {
      for (const batch of generateWorkload(11, 60, WORKLOAD_VARIANTS[variant])) {
        const whole: PollObservation[] = [];
        let kept: PollObservation[] = [];
        for (let t = batch.trackedAt, polls = 0; t < batch.endAt && polls < 300; polls++) {
          const o = batch.observe(t);
          whole.push(o);
          kept = compactObservations([...kept, o]);
          const base = { trackedAt: batch.trackedAt, createdAt: batch.createdAt, expiresAt: batch.expiresAt, now: t };
          const delay = nextPollDelay({ ...base, observations: whole });
          if (kept.length < POLLING_POLICY.historyLimit) {
            const a = JSON.stringify(estimateProgress({ ...base, observations: kept }));
            const b = JSON.stringify(estimateProgress({ ...base, observations: whole }));
            if (nextPollDelay({ ...base, observations: kept }) !== delay || a !== b) differences.push(`${variant} #${batch.id} at poll ${polls}`);
            compared++;
          }
          t += delay;
        }
      }
    }
    expect(differences).toEqual([]);
    expect(compared).toBeGreaterThan(5_000);
  });
});

describe("polling economy on the shared workloads (a regression guard; npm run bench has the full tables)", () => {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.ceil(q * xs.length) - 1];

  test("the workload is deterministic for a seed", () => {
    for (const variant of ["default", "bursty"]) {
      const sample = () => generateWorkload(5, 50, WORKLOAD_VARIANTS[variant]).map((b) => [b.endAt, b.kind, JSON.stringify(b.observe(b.createdAt + 10 * MIN))]);
      expect(sample()).toEqual(sample());
    }
  });

  test.each(BENCH_WORKLOADS.map((w) => ({ ...w, minFewer: w.family === "bursty" ? 4.5 : 8.5 })))(
    "$variant, 1,000 batches: ≥ $minFewer× fewer polls than a 60 s poll, p95 no later, p99 under 2 minutes, ≤ 500 polls a batch",
    ({ variant, minFewer }) => {
      const batches = generateWorkload(7, 1_000, WORKLOAD_VARIANTS[variant]);
      const rand = mulberry32(7);
      const cron = batches.map((b) => fixedIntervalOutcome(b, b.trackedAt + Math.floor(rand() * MIN), MIN));
      const ours = batches.map((b) => simulateSchedule(b, (h) => nextPollDelay(h)));
      const native = batches.map((b) => simulateSchedule(b, (h) => nextPollDelay(h), { nativeSignals: true }));
      const cronPolls = mean(cron.map((o) => o.polls));
      const delays = ours.map((o) => o.delayMs);
      expect(cronPolls / mean(ours.map((o) => o.polls))).toBeGreaterThanOrEqual(minFewer);
      expect(quantile(delays, 0.95)).toBeLessThanOrEqual(quantile(cron.map((o) => o.delayMs), 0.95));
      expect(quantile(delays, 0.99)).toBeLessThan(2 * MIN);
      expect(Math.max(...ours.map((o) => o.polls))).toBeLessThanOrEqual(500);
      expect(mean(native.map((o) => o.polls)) / cronPolls).toBeLessThanOrEqual(1 / 50);
    },
  );
});
