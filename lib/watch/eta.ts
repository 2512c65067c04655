import { estimateProgress, type PollHistory } from "@/lib/polling";
import { isTerminal } from "@/lib/providers/types";

/**
 * When a running batch should finish, from the same evidence the poll schedule uses
 * ({@link estimateProgress}: the pace of its progress since it last stalled, how steady that pace
 * is, and the provider's deadline), or a plain statement that there is not enough evidence yet.
 * Pure and total, like the schedule: the API computes it on every read from the observations the
 * watcher keeps.
 *
 * A batch ends in two parts: its requests are processed (what the progress pace predicts), then
 * the provider finalizes (writes the output files). Finalizing is not visible in the progress, so
 * it is added as an allowance: about {@link ETA_POLICY.finalizingShare} of the batch's length, at
 * least {@link ETA_POLICY.finalizingMinMs}, within the range of lengths it usually takes. The
 * range is the pace's earliest and latest plausible end (± 2 standard deviations) with the
 * shortest and longest finalizing, and never past the provider's deadline (the batch is over by
 * then, one way or another).
 *
 * Accuracy on the polling benchmark's workloads is in BENCHMARKS.md ("ETA accuracy").
 */

export const ETA_POLICY = Object.freeze({
  /** Finalizing (writing results after the last request) as a share of the batch's length so far… */
  finalizingShare: 0.025,
  /** …and the range it usually spans. */
  finalizingShareRange: [0.01, 0.05] as const,
  /** Finalizing takes at least this long. */
  finalizingMinMs: 30_000,
  /** A pace is only extrapolated once it has held for this share of the batch's age (a burst is not a pace). */
  minEvidenceShare: 0.25,
  /** The rest may go this much faster or slower than the pace so far (providers shift capacity). */
  paceDrift: 0.25,
});

/** Why an ETA cannot be given yet. */
export const ETA_GAPS = [
  /** Still validating: nothing has been processed, so there is no pace. */
  "not_started",
  /** The provider reports no progress for this job (status only). */
  "no_progress_reported",
  /** Progress has moved too few times, or for too short a stretch of the batch's life, to tell a pace from a burst. */
  "pace_not_established",
  /** Progress stopped moving for longer than its pace explains: the pace no longer predicts anything. */
  "stalled",
  /** Every request is done but the provider has not started finalizing: nothing says how long it holds. */
  "awaiting_finalizing",
  /** Cancelling: how long a provider takes to stop is not something progress predicts. */
  "cancelling",
  /** The whole predicted range has passed without the batch ending: the next poll will tell more. */
  "overdue",
] as const;
export type EtaGap = (typeof ETA_GAPS)[number];

export type Eta =
  | {
      state: "estimated";
      /** Epoch ms. */
      expectedAt: number;
      earliestAt: number;
      latestAt: number;
      /** In [0, 1]: how narrow the range is relative to the time left (1 − (expected − earliest) / remaining). */
      confidence: number;
      /** What the estimate rests on: the progress pace, or a finalizing phase already under way. */
      basis: "pace" | "finalizing";
      /** The expected end lies past the provider's deadline: at this pace the batch will not finish in time. */
      pastDeadline: boolean;
    }
  | {
      state: "not_enough_evidence";
      reason: EtaGap;
      /** The provider's deadline (epoch ms), the one bound that holds without evidence; null when unknown. */
      latestAt: number | null;
    };

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Finalizing time for a batch of this length: [shortest, expected, longest]. */
function finalizingAllowance(lengthMs: number): [number, number, number] {
  const length = Math.max(0, lengthMs);
  const [lo, hi] = ETA_POLICY.finalizingShareRange;
  const min = ETA_POLICY.finalizingMinMs;
  return [Math.max(min, lo * length), Math.max(min, ETA_POLICY.finalizingShare * length), Math.max(min, hi * length)];
}

/**
 * The ETA of a batch from its poll history (the observations the watcher keeps, `now`, the
 * provider's creation time and deadline); null once its last observation is terminal.
 */
export function estimateCompletion(history: PollHistory): Eta | null {
  const lastPollAt = history.observations.at(-1)?.at;
  const now = finite(history.now) ? history.now : finite(lastPollAt) ? lastPollAt : 0;
  // The evidence as of the last poll: the time since then is unobserved, and no news is not a stall.
  const estimate = estimateProgress({ ...history, now: finite(lastPollAt) ? Math.min(now, lastPollAt) : now });
  const status = estimate.status;
  if (status === null) return { state: "not_enough_evidence", reason: "not_started", latestAt: deadlineOf(history) };
  if (isTerminal(status)) return null;
  const origin = [history.createdAt, history.trackedAt, history.observations[0]?.at].find(
    (t): t is number => finite(t) && t <= now,
  ) ?? now;
  const deadline = deadlineOf(history);
  const gap = (reason: EtaGap): Eta => ({ state: "not_enough_evidence", reason, latestAt: deadline });

  if (status === "cancelling") return gap("cancelling");
  if (status === "finalizing") {
    // It began between the last poll that saw another status and the first that saw it finalizing;
    // what remains is the usual allowance for a batch of that length, less what has passed.
    const since = Math.min(now, estimate.statusSince ?? now);
    const before = history.observations.reduce((t, o) => (finite(o?.at) && o.at < since && o.at > t ? o.at : t), -Infinity);
    const began = [Math.max(origin, finite(before) ? before : since), since] as const;
    const [shortest, expected, longest] = finalizingAllowance(since - origin);
    return bounded(
      {
        expectedAt: (began[0] + began[1]) / 2 + expected,
        earliestAt: began[0] + shortest,
        // Past its usual length it may take about as long again: the range stays open, not "now".
        latestAt: Math.max(began[1] + longest, now + (now - began[1])),
      },
      now,
      deadline,
      "finalizing",
    );
  }
  if (status === "validating") return gap("not_started");
  if (estimate.progress === null) return gap("no_progress_reported");
  if (estimate.progress >= 1) return gap("awaiting_finalizing");
  if (estimate.stalled) return gap("stalled");
  const evidenceAt = estimate.lastMovedAt ?? now;
  if (
    estimate.expectedDoneAt === null ||
    estimate.earliestDoneAt === null ||
    estimate.latestDoneAt === null ||
    estimate.evidenceMs < ETA_POLICY.minEvidenceShare * (evidenceAt - origin)
  ) {
    return gap("pace_not_established");
  }
  // Requests done at the pace's expected / earliest / latest time (widened by the drift the pace
  // may still take), then the finalizing allowance for a batch of that length.
  const from = estimate.lastMovedAt !== null ? Math.min(now, lastPollAt ?? now) : now;
  const drift = ETA_POLICY.paceDrift * (estimate.expectedDoneAt - from);
  const withFinalizing = (doneAt: number, which: 0 | 1 | 2) => doneAt + finalizingAllowance(doneAt - origin)[which];
  const latestAt = withFinalizing(estimate.latestDoneAt + drift, 2);
  if (latestAt < now) return gap("overdue");
  return bounded(
    {
      expectedAt: withFinalizing(estimate.expectedDoneAt, 1),
      earliestAt: withFinalizing(Math.max(from, estimate.earliestDoneAt - drift), 0),
      latestAt,
    },
    now,
    deadline,
    "pace",
  );
}

function deadlineOf(history: PollHistory): number | null {
  return finite(history.expiresAt) ? history.expiresAt : null;
}

function bounded(
  range: { expectedAt: number; earliestAt: number; latestAt: number },
  now: number,
  deadline: number | null,
  basis: "pace" | "finalizing",
): Eta {
  const pastDeadline = deadline !== null && range.expectedAt > deadline;
  // Never in the past (a prediction made at the last poll may have run out since), never past the deadline.
  const cap = (t: number) => Math.round(Math.max(now, deadline !== null && deadline > now ? Math.min(t, deadline) : t));
  // Not ended by the expected time: what is left of the range is from now to its latest end.
  const expectedAt = cap(range.expectedAt > now ? range.expectedAt : (now + range.latestAt) / 2);
  const earliestAt = Math.min(cap(range.earliestAt), expectedAt);
  const latestAt = Math.max(cap(range.latestAt), expectedAt);
  const remaining = expectedAt - now;
  const confidence = remaining > 0 ? Math.min(1, Math.max(0, 1 - (expectedAt - earliestAt) / remaining)) : 1;
  return { state: "estimated", expectedAt, earliestAt, latestAt, confidence: Math.round(confidence * 1000) / 1000, basis, pastDeadline };
}
