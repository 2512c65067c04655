import { describe, expect, test } from "vitest";
import { explainDelivery, resendBlocker, type DeliveryFacts } from "@/lib/dashboard/delivery-state";
import { localTime } from "@/lib/dashboard/format";
import { groupedAttempts } from "@/lib/dashboard/timeline";
import type { DeliveryAttemptView } from "@/lib/jobs/queries";

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

const base: DeliveryFacts = {
  status: "failed",
  attemptCount: 21,
  lastStatusCode: 503,
  lastError: "receiver answered 503",
  lastAttemptAt: at(-3 * DAY),
  deliveredAt: null,
  failedAt: at(-3 * DAY),
  createdAt: at(-5 * DAY),
  nextAttemptAt: null,
  closedReason: "gave_up",
  firstAttemptAt: at(-5 * DAY),
  lastResponseBody: "db pool exhausted",
  endpointDisabled: false,
  subscriptionDisabled: false,
};

describe("why a delivery is where it is", () => {
  test.each([
    ["given up", {}, "Gave up after 21 attempts over 2 d", "HTTP 503: db pool exhausted", null],
    [
      "stopped by a disabled endpoint, keeping the receiver's answer before it",
      { closedReason: "endpoint_disabled", endpointDisabled: true, lastStatusCode: 500, lastResponseBody: "" },
      "Stopped: the endpoint was disabled",
      "HTTP 500 (empty body)",
      "Its endpoint is disabled: enable it, then resend.",
    ],
    [
      "gone",
      { closedReason: "gone", lastStatusCode: 410, subscriptionDisabled: true, lastResponseBody: null },
      "Stopped: the receiver answered 410 Gone, so this subscription gets no more events",
      "HTTP 410",
      "Its subscription is disabled (410 Gone or untracked): track the batch again to resend.",
    ],
    [
      "retrying after a refused connection",
      { status: "pending", attemptCount: 4, closedReason: null, lastStatusCode: null, lastError: "connect ECONNREFUSED", lastResponseBody: null, nextAttemptAt: at(20 * MIN) },
      "Retrying after 4 attempts",
      "No response: connect ECONNREFUSED",
      "Next attempt in 20 min",
    ],
    [
      "delivered",
      { status: "delivered", attemptCount: 1, closedReason: null, lastStatusCode: 200, lastError: null, lastResponseBody: "ok" },
      "Delivered after 1 attempt",
      "HTTP 200: ok",
      null,
    ],
  ] as const)("%s", (_name, overrides, headline, lastAnswer, next) => {
    expect(explainDelivery({ ...base, ...overrides } as DeliveryFacts, NOW)).toMatchObject({ headline, lastAnswer, next, overdue: false });
  });

  test("calls a pending attempt long past its due time overdue, pointing at the engine", () => {
    const queued = { ...base, status: "pending", attemptCount: 0, closedReason: null, lastStatusCode: null, lastError: null, lastResponseBody: null };
    expect(explainDelivery({ ...queued, nextAttemptAt: at(-MIN) }, NOW)).toMatchObject({ headline: "Queued", overdue: false });
    expect(explainDelivery({ ...queued, nextAttemptAt: at(-10 * MIN) }, NOW)).toMatchObject({
      headline: "Queued, not sent yet",
      next: "The attempt was due 10 min ago: check that Inngest is running and reaches /api/inngest.",
      overdue: true,
    });
  });

  test("offers a resend only where it can succeed", () => {
    expect(resendBlocker(base)).toBeNull();
    expect(resendBlocker({ ...base, endpointDisabled: true })).toMatch(/enable it/);
    expect(resendBlocker({ ...base, subscriptionDisabled: true })).toMatch(/track the batch again/);
  });
});

describe("attempts", () => {
  const attempt = (n: number, fields: Partial<DeliveryAttemptView> = {}): DeliveryAttemptView => ({
    runId: "r1",
    attempt: n,
    attemptedAt: at(n * MIN),
    statusCode: 503,
    durationMs: 10,
    error: "receiver answered 503",
    responseBody: "busy",
    ...fields,
  });

  test("with the same answer in a row are one group; a different answer or a new run starts another", () => {
    const groups = groupedAttempts([
      attempt(1),
      attempt(2),
      attempt(3),
      attempt(4, { responseBody: "down" }),
      attempt(5, { runId: "r2", attempt: 1, responseBody: "down" }),
    ]);
    expect(groups.map((group) => [group.first, group.last, group.count, group.newRun])).toEqual([
      [1, 3, 3, false],
      [4, 4, 1, false],
      [5, 5, 1, true],
    ]);
    expect(groups[0]).toMatchObject({ firstAt: at(MIN), lastAt: at(3 * MIN) });
  });

  test("that succeeded are never grouped (a second success is a resend)", () => {
    const ok = { statusCode: 200, error: null, responseBody: "ok" };
    expect(groupedAttempts([attempt(1, ok), attempt(2, ok)]).map((group) => group.count)).toEqual([1, 1]);
  });
});

describe("local times", () => {
  test.each([
    [60, "2026-11-23 13:00:00 UTC+1"],
    [-330, "2026-11-23 06:30:00 UTC-5:30"],
    [0, "2026-11-23 12:00:00 UTC"],
  ])("at an offset of %i minutes", (offset, expected) => {
    expect(localTime(at(0), offset)).toBe(expected);
  });
});
