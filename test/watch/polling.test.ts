import { describe, expect, test } from "vitest";
import { runPollingEconomy } from "@/bench/polling-economy";
import { generateWorkload, mulberry32 } from "@/bench/workload";
import {
  MAX_POLL_DELAY_MS,
  MIN_POLL_DELAY_MS,
  nextPollDelay,
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
const ACTIVE: UnifiedStatus[] = ["validating", "in_progress", "finalizing", "cancelling"];

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

  test("all requests counted while still in_progress is treated like finalizing", () => {
    expect(nextPollDelay(history([{ age: 5 * H, p: 0.9 }, { age: 6 * H, p: 1 }]))).toBeLessThanOrEqual(POLLING_POLICY.briskMaxMs);
  });
});

describe("nextPollDelay: young batches are polled quickly", () => {
  test.each([
    ["validating", 20 * S, null],
    ["validating", 2 * MIN, null],
    ["in_progress", 90 * S, 0],
    ["in_progress", 3 * MIN, 0],
    ["in_progress", 3 * MIN, 0.02],
  ] as [UnifiedStatus, number, number | null][])("%s at age %i ms: about a minute at most", (status, age, p) => {
    const h = history([{ age: age / 3, status: "validating" }, { age: (2 * age) / 3, status, p }, { age, status, p }]);
    expect(nextPollDelay(h)).toBeLessThanOrEqual(60 * S);
  });

  test("young batches poll more often than old ones in the same state", () => {
    const young = nextPollDelay(history([{ age: 1 * MIN, p: 0 }, { age: 2 * MIN, p: 0 }, { age: 3 * MIN, p: 0 }]));
    const old = nextPollDelay(history([{ age: 3 * H, p: 0 }, { age: 4 * H, p: 0 }, { age: 5 * H, p: 0 }]));
    expect(young).toBeLessThan(old);
  });
});

describe("nextPollDelay: backs off while nothing moves", () => {
  test("delays grow while a batch is stalled, bounded by a fraction of its age and 45 minutes", () => {
    // Progress to 30% over two hours, then nothing moves for the rest of the day.
    const model = (t: number) => ({ status: "in_progress" as const, p: Math.min(0.3, (0.3 * (t - T0)) / (2 * H)) });
    const polls = drive(model, T0 + DAY).filter((p) => p.at > T0 + 2 * H + 30 * MIN);
    expect(polls.length).toBeGreaterThan(5);
    for (let i = 1; i < polls.length; i++) expect(polls[i].delay).toBeGreaterThanOrEqual(polls[i - 1].delay);
    expect(polls[polls.length - 1].delay).toBe(POLLING_POLICY.idleCapMs);
    expect(polls[polls.length - 1].delay).toBeGreaterThan(2 * polls[0].delay);
    for (const p of polls) {
      expect(p.delay).toBeLessThanOrEqual(Math.max(POLLING_POLICY.activeFloorMs, POLLING_POLICY.idleAgeFraction * (p.at - T0)) + 1);
      expect(p.delay).toBeLessThanOrEqual(POLLING_POLICY.idleCapMs);
    }
  });

  test.each([
    ["no progress information", null],
    ["counts stuck at 0", 0],
    ["counts stuck at 40%", 0.4],
  ] as [string, number | null][])("%s: waits longer after 6 hours than after 1", (_label, p) => {
    const at = (hours: number) => nextPollDelay(history([{ age: hours * H - 20 * MIN, p }, { age: hours * H - 10 * MIN, p }, { age: hours * H, p }]));
    expect(at(6)).toBeGreaterThan(at(1));
  });
});

describe("nextPollDelay: predicts completion from steady progress", () => {
  // 100,000 requests at 10% an hour from T0: the run ends 10 h after creation.
  const steady = (hours: number[]) => history(hours.map((h) => ({ age: h * H, p: 0.1 * h })));

  test.each([
    [[4, 5, 6], 4 * H], // 4 h left
    [[7, 8, 9], 1 * H], // 1 h left
    [[9, 9.5, 9.8], 12 * MIN], // 12 min left
  ] as [number[], number][])("at hours %j the next poll is before the predicted end (%i ms away)", (hours, remaining) => {
    const d = nextPollDelay(steady(hours));
    expect(d).toBeLessThanOrEqual(remaining);
    expect(d).toBeGreaterThanOrEqual(POLLING_POLICY.activeFloorMs); // and does not fall back to minute polling
  });

  test("close to the predicted end, the next poll lands just after it", () => {
    // 3 minutes left at 9.95 h: land within 10% + 2 s after the end.
    const d = nextPollDelay(steady([9.7, 9.85, 9.95]));
    expect(d).toBeGreaterThanOrEqual(3 * MIN - 5 * S);
    expect(d).toBeLessThanOrEqual(3 * MIN + 0.1 * 3 * MIN + 5 * S);
  });

  test("driven over a whole steady 10-hour batch, it first sees finalizing soon after it starts, with few polls", () => {
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
    expect(firstFinalizing).toBeDefined();
    expect(firstFinalizing!.at - (T0 + 10 * H)).toBeLessThanOrEqual(0.01 * 10 * H); // within 1% of the length
    expect(done.status).toBe("completed");
    expect(done.at - (T0 + 10 * H + 10 * MIN)).toBeLessThanOrEqual(POLLING_POLICY.briskMaxMs);
    expect(polls.length).toBeLessThan(10 * 60 / 10); // far fewer than a poll every 10 minutes
  });

  test("a burst after a stall is measured again quickly instead of trusted", () => {
    // 20% after 2 h, stuck until 6 h, then 60% more within the last poll interval.
    const stalled = history([{ age: 2 * H, p: 0.2 }, { age: 3 * H, p: 0.2 }, { age: 4.5 * H, p: 0.2 }, { age: 5.5 * H, p: 0.2 }, { age: 6.5 * H, p: 0.8 }]);
    expect(nextPollDelay(stalled)).toBeLessThanOrEqual(0.5 * H);
  });
});

describe("nextPollDelay: never sleeps past expiresAt", () => {
  test.each([
    ["stalled old batch", history([{ age: 20 * H, p: 0.4 }, { age: 22 * H, p: 0.4 }, { age: 23.9 * H, p: 0.4 }], { expiresAt: T0 + DAY })],
    ["slow progress predicting an end after the deadline", history([{ age: 20 * H, p: 0.2 }, { age: 22 * H, p: 0.22 }, { age: 23.5 * H, p: 0.24 }], { expiresAt: T0 + DAY })],
    ["native signals", history([{ age: 23.8 * H, p: 0.5 }], { expiresAt: T0 + DAY, nativeSignals: true })],
    ["validating", history([{ age: 23.99 * H, status: "validating" }], { expiresAt: T0 + DAY })],
  ] as [string, PollHistory][])("%s", (_label, h) => {
    const d = nextPollDelay(h);
    expect(h.now + d).toBeLessThanOrEqual((h.expiresAt as number) + POLLING_POLICY.expiryMarginMs);
  });

  test("past the deadline and not terminal yet: poll again within minutes", () => {
    const d = nextPollDelay(history([{ age: 24 * H + 2 * MIN, p: 0.4 }], { expiresAt: T0 + DAY }));
    expect(d).toBeLessThanOrEqual(POLLING_POLICY.overdueMaxMs);
    expect(d).toBeGreaterThanOrEqual(POLLING_POLICY.overdueMinMs);
  });
});

describe("nextPollDelay: native signals make polling a safety net", () => {
  test.each([
    ["in_progress", 2 * H, 2 * H],
    ["in_progress", 20 * H, 2 * H],
    ["in_progress", 40 * MIN, 40 * MIN],
    ["validating", 30 * S, 15 * MIN],
    ["finalizing", 20 * H, 30 * MIN],
    ["cancelling", 5 * H, 30 * MIN],
  ] as [UnifiedStatus, number, number][])("%s at age %i ms → %i ms", (status, age, expected) => {
    const p = status === "in_progress" ? 0.5 : status === "finalizing" ? 1 : null;
    expect(nextPollDelay(history([{ age, status, p }], { nativeSignals: true }))).toBe(expected);
  });

  test("hour-scale for batches older than an hour, whatever their progress says", () => {
    for (const p of [0, 0.3, 0.99]) {
      const d = nextPollDelay(history([{ age: 3 * H, p: p / 2 }, { age: 4 * H, p }], { nativeSignals: true }));
      expect(d).toBeGreaterThanOrEqual(1 * H);
      expect(d).toBeLessThanOrEqual(2 * H);
    }
  });
});

describe("polling economy (regression guard for the policy)", () => {
  test("the workload is deterministic for a seed", () => {
    const a = generateWorkload(5, 50).map((b) => [b.endAt, b.kind, JSON.stringify(b.observe(b.createdAt + 10 * MIN))]);
    const b = generateWorkload(5, 50).map((b) => [b.endAt, b.kind, JSON.stringify(b.observe(b.createdAt + 10 * MIN))]);
    expect(a).toEqual(b);
  });

  test.each([1, 2, 3])("2,000 batches, seed %i: every target is met", (seed) => {
    const report = runPollingEconomy({ seed, batches: 2_000 });
    for (const t of report.targets) expect({ target: t.name, measured: t.measured, met: t.met }).toEqual({ target: t.name, measured: t.measured, met: true });
    expect(report.strategies.batchwatch.polls.mean).toBeLessThan(report.strategies["exp-backoff"].polls.mean * 4);
    expect(report.strategies.oracle.polls.mean).toBe(1);
  });
});
