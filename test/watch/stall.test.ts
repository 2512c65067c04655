import { afterEach, describe, expect, test } from "vitest";
import * as batches from "@/app/api/batches/route";
import { setClock } from "@/lib/clock";
import type { PollObservation } from "@/lib/polling";
import { handleTrackedEvent } from "@/lib/track/tracking";
import { detectStall, PHASE_NORMAL_MS, STALL_POLICY } from "@/lib/watch/stall";
import { pollOnce } from "@/lib/watch/watching";
import { recordingSender } from "../helpers/durable";
import { call, useApiHarness } from "../helpers/api";

/** Stuck-batch alerts: batch.stalled once per stall, batch.resumed when it moves again, to subscribers who opt in. */

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

describe("detectStall", () => {
  const running = (minutes: number[], progressAt: (minute: number) => number, status: PollObservation["status"] = "in_progress") =>
    minutes.map((minute) => ({ at: T0 + minute * MIN, status, requestCounts: { total: 100, completed: progressAt(minute), failed: 0 } }));
  const steady = (minute: number) => Math.min(99, Math.floor(minute / 2));

  test.each([
    { name: "steady progress", observations: running([0, 5, 10, 15, 20, 25, 30], steady), kind: null },
    {
      name: "a pause a little longer than its history, under the floor",
      observations: running([0, 5, 10, 15, 20, 25, 30, 40, 50], (m) => Math.min(steady(m), 15)),
      kind: null,
    },
    {
      name: "no progress for far longer than its pace and pauses predict",
      observations: running([0, 5, 10, 15, 20, 25, 30, 60, 90, 100], (m) => Math.min(steady(m), 15)),
      kind: "no_progress",
    },
  ])("$name: $kind", ({ observations, kind }) => {
    const stall = detectStall({ provider: "openai", trackedAt: T0, now: observations.at(-1)!.at, expiresAt: T0 + 24 * HOUR, observations });
    expect(stall?.kind ?? null).toBe(kind);
    if (kind === "no_progress") expect(stall!.forMs).toBeGreaterThanOrEqual(STALL_POLICY.minStallMs);
  });

  test.each([
    { provider: "openai", status: "validating", minutes: 90, stuck: true },
    { provider: "gemini", status: "validating", minutes: 90, stuck: false },
    { provider: "gemini", status: "validating", minutes: 7 * 60, stuck: true },
    { provider: "openai", status: "finalizing", minutes: 50, stuck: false },
    { provider: "openai", status: "finalizing", minutes: 70, stuck: true },
  ] as const)("$provider $status for $minutes min is stuck_in_phase: $stuck", ({ provider, status, minutes, stuck }) => {
    const from = 60; // an hour in progress first (finalizing allowance scales with it)
    const observations = [
      { at: T0, status: "in_progress" as const, progress: 0.5 },
      { at: T0 + from * MIN, status, progress: 1 },
      { at: T0 + (from + minutes) * MIN, status, progress: 1 },
    ];
    const stall = detectStall({ provider, trackedAt: T0, now: observations.at(-1)!.at, expiresAt: T0 + 48 * HOUR, observations });
    expect(stall?.kind ?? null).toBe(stuck ? "stuck_in_phase" : null);
    if (stuck) expect(stall).toMatchObject({ since: T0 + from * MIN, expectedMs: PHASE_NORMAL_MS[provider][status] });
  });

  test("still running past the provider's window with progress unchanged is past_window", () => {
    const observations = running([0, 60, 24 * 60, 24 * 60 + 40], () => 80);
    const stall = detectStall({ provider: "openai", trackedAt: T0, now: observations.at(-1)!.at, expiresAt: T0 + 24 * HOUR, observations });
    expect(stall).toMatchObject({ kind: "past_window", since: T0 + 24 * HOUR, expectedMs: null });
  });
});

describe("the watcher", () => {
  const harness = useApiHarness();
  afterEach(() => setClock());

  /** Tracks `batchId` for a subscriber opting into stall notices and one that does not, then polls it to the end. */
  async function watch(batchId: string) {
    setClock(() => T0);
    const optedIn = await call(batches.POST, "POST", "/api/batches", {
      body: { provider: "simulated", batchId, webhookUrl: "http://127.0.0.1:9/alerts", events: ["batch.stalled", "batch.resumed", "batch.completed"] },
    });
    await call(batches.POST, "POST", "/api/batches", { body: { provider: "simulated", batchId, webhookUrl: "http://127.0.0.1:9/outcomes" } });
    const jobId: string = optedIn.json.job.id;
    const claimed = await handleTrackedEvent(harness.db, { provider: "simulated", batchId, subscriptionId: optedIn.json.subscription.id }, recordingSender().send);
    expect(claimed.watchStarted).toBe(true);
    let now = T0;
    for (let poll = 0; poll < 2_000; poll++) {
      setClock(() => now);
      const decision = await pollOnce(harness.db, { jobId, generation: 1 }, recordingSender().send);
      if (decision.action === "stop") break;
      now += decision.delayMs;
    }
    const deliveries = await harness.db.query<{ event_type: string; topic: string | null; payload: Record<string, any>; webhook_url: string }>(
      `SELECT d.event_type, d.topic, d.payload, s.webhook_url FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
       WHERE d.job_id = $1 ORDER BY d.created_at, d.event_type`,
      [jobId],
    );
    return { deliveries, jobId };
  }

  test("a batch whose progress stops for 40 % of its run: one batch.stalled, then one batch.resumed, to the subscriber that opted in", async () => {
    const { deliveries } = await watch("sim_4h_completed_100_p30-70");
    const alerts = deliveries.filter((delivery) => delivery.webhook_url.endsWith("/alerts"));
    expect(alerts.map((delivery) => [delivery.event_type, delivery.topic])).toEqual([
      ["batch.stalled", "stalled:1"],
      ["batch.resumed", "resumed:1"],
      ["batch.completed", null],
    ]);
    const [stalled, resumed] = alerts.map((delivery) => delivery.payload);
    expect(stalled).toMatchObject({ type: "batch.stalled", id: "sim_4h_completed_100_p30-70", status: "in_progress", stall: { kind: "no_progress", number: 1 } });
    const pauseStart = T0 + 0.3 * 4 * HOUR;
    expect(Date.parse(stalled!.stall.since)).toBeGreaterThanOrEqual(pauseStart - 5 * MIN);
    expect(stalled!.stall.forMs).toBeGreaterThanOrEqual(STALL_POLICY.minStallMs);
    expect(Date.parse(stalled!.detectedAt)).toBeLessThan(T0 + 0.7 * 4 * HOUR);
    expect(resumed).toMatchObject({ type: "batch.resumed", stall: { kind: "no_progress", number: 1, since: stalled!.stall.since } });
    expect(Date.parse(resumed!.resumedAt)).toBeGreaterThanOrEqual(T0 + 0.7 * 4 * HOUR);
    expect(deliveries.filter((delivery) => delivery.webhook_url.endsWith("/outcomes")).map((delivery) => delivery.event_type)).toEqual(["batch.completed"]);
  });

  test("a batch queued (validating) for longer than normal for its provider: stuck_in_phase, then resumed when it starts", async () => {
    const { deliveries, jobId } = await watch("sim_20m_completed_10_q50");
    const alerts = deliveries.filter((delivery) => delivery.webhook_url.endsWith("/alerts"));
    expect(alerts.map((delivery) => delivery.event_type)).toEqual(["batch.stalled", "batch.resumed", "batch.completed"]);
    expect(alerts[0]!.payload).toMatchObject({ status: "validating", stall: { kind: "stuck_in_phase", expectedMs: PHASE_NORMAL_MS.simulated.validating } });
    expect(alerts[1]!.payload).toMatchObject({ status: "in_progress" });
    const [job] = await harness.db.query<{ stall: unknown; stall_count: number }>("SELECT stall, stall_count FROM jobs WHERE id = $1", [jobId]);
    expect(job).toEqual({ stall: null, stall_count: 1 });
  });

  test("a batch that runs steadily sends no stall notice", async () => {
    const { deliveries } = await watch("sim_4h_completed_100");
    expect(deliveries.map((delivery) => delivery.event_type)).toEqual(["batch.completed", "batch.completed"]);
  });
});
