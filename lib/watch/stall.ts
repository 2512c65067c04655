import { estimateProgress, type PollHistory, type PollObservation } from "@/lib/polling";
import { isTerminal, type ProviderName } from "@/lib/providers/types";

/**
 * Stuck-batch detection, from the evidence the poll schedule keeps (pure, like nextPollDelay; the
 * watcher calls it on every poll it already makes). A batch is stalled when:
 *
 * - `no_progress`: in progress, its progress has not moved for far longer than its own history
 *   predicts — {@link estimateProgress} calls the pace broken (`stalled`), and the flat run
 *   ({@link ProgressEstimate.stalledForMs}) is at least {@link STALL_POLICY.pauseFactor} times the
 *   longest pause seen between movements, {@link STALL_POLICY.paceSteps} visible steps at its pace,
 *   and {@link STALL_POLICY.minStallMs};
 * - `stuck_in_phase`: validating (queued) or finalizing for longer than is normal for its provider
 *   ({@link PHASE_NORMAL_MS}; finalizing also gets {@link STALL_POLICY.finalizingShare} of the
 *   batch's length before it, as long batches finalize longer);
 * - `past_window`: still running past the provider's completion window (`expiresAt`) with its
 *   progress unchanged for {@link STALL_POLICY.minStallMs}.
 *
 * A stall ends — the batch resumed — when its status or progress differs from what it was when
 * the stall was seen. Then a new stall needs the same evidence again, so a stall is reported once.
 */

export const STALL_KINDS = ["no_progress", "stuck_in_phase", "past_window"] as const;
export type StallKind = (typeof STALL_KINDS)[number];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const STALL_POLICY = Object.freeze({
  /** No progress for this many times the longest pause between movements seen so far… */
  pauseFactor: 4,
  /** …and for this many visible steps (1/total) at the pace before it… */
  paceSteps: 10,
  /** …and at least this long (also the flat stretch a batch past its window needs). */
  minStallMs: 30 * MINUTE,
  /** Finalizing normally takes up to this share of the batch's length before it. */
  finalizingShare: 0.1,
});

/**
 * How long validating (queued) and finalizing normally last, per provider. Queues differ (Gemini
 * jobs wait in PENDING for hours when capacity is short; OpenAI batches have been seen stuck in
 * finalizing), so these are the points past which the phase is no longer normal.
 */
export const PHASE_NORMAL_MS: Readonly<Record<ProviderName | "default", { validating: number; finalizing: number }>> = Object.freeze({
  default: { validating: 2 * HOUR, finalizing: 1 * HOUR },
  openai: { validating: 1 * HOUR, finalizing: 1 * HOUR },
  azure: { validating: 2 * HOUR, finalizing: 1 * HOUR },
  groq: { validating: 1 * HOUR, finalizing: 30 * MINUTE },
  together: { validating: 1 * HOUR, finalizing: 30 * MINUTE },
  xai: { validating: 1 * HOUR, finalizing: 30 * MINUTE },
  anthropic: { validating: 1 * HOUR, finalizing: 30 * MINUTE },
  gemini: { validating: 6 * HOUR, finalizing: 1 * HOUR },
  mistral: { validating: 2 * HOUR, finalizing: 1 * HOUR },
  // Demo batches run for minutes: a queue of half a minute is already long.
  simulated: { validating: 30_000, finalizing: 30_000 },
});

export interface Stall {
  kind: StallKind;
  /** When it stopped moving (epoch ms): the first poll that saw the value or status it is stuck at. */
  since: number;
  /** How long it has been stuck (ms), as of the poll that saw it. */
  forMs: number;
  /** What its history (or its provider's norm) predicted at most, in ms; null past its window. */
  expectedMs: number | null;
  /** What it is stuck at: a later poll that sees another status or progress has resumed. */
  status: string;
  progress: number | null;
}

const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** The stall a history shows as of its last poll, or null. */
export function detectStall(history: PollHistory & { provider: ProviderName }): Stall | null {
  const last = history.observations.at(-1);
  if (!last || isTerminal(last.status)) return null;
  const now = last.at;
  const estimate = estimateProgress({ ...history, now });
  const stuck = { status: last.status, progress: estimate.progress };

  if (last.status === "validating" || last.status === "finalizing") {
    const since = estimate.statusSince ?? now;
    const origin = [history.createdAt, history.trackedAt].find((t): t is number => finite(t) && t <= since) ?? since;
    const norms = PHASE_NORMAL_MS[history.provider] ?? PHASE_NORMAL_MS.default;
    const normal = last.status === "validating" ? norms.validating : Math.max(norms.finalizing, STALL_POLICY.finalizingShare * (since - origin));
    if (now - since > normal) return { kind: "stuck_in_phase", since, forMs: now - since, expectedMs: normal, ...stuck };
  }

  if (finite(history.expiresAt) && now > history.expiresAt) {
    const flatSince = estimate.progress === null ? history.expiresAt : Math.max(history.expiresAt, now - estimate.stalledForMs);
    if (now - flatSince >= STALL_POLICY.minStallMs) {
      return { kind: "past_window", since: flatSince, forMs: now - flatSince, expectedMs: null, ...stuck };
    }
  }

  if (last.status === "in_progress" && estimate.stalled && estimate.progress !== null && estimate.progress < 1 && estimate.pace > 0) {
    const expectedMs = Math.max(estimate.longestPauseMs, estimate.quantum / estimate.pace);
    const threshold = Math.max(STALL_POLICY.pauseFactor * estimate.longestPauseMs, STALL_POLICY.paceSteps * (estimate.quantum / estimate.pace), STALL_POLICY.minStallMs);
    if (estimate.stalledForMs >= threshold) {
      return { kind: "no_progress", since: now - estimate.stalledForMs, forMs: estimate.stalledForMs, expectedMs: Math.round(expectedMs), ...stuck };
    }
  }
  return null;
}

/** Whether the latest observation moved on from what a stall was stuck at. */
export function hasResumed(stall: Pick<Stall, "status" | "progress">, observation: PollObservation, progress: number | null): boolean {
  if (isTerminal(observation.status)) return false;
  return observation.status !== stall.status || (progress !== null && progress !== stall.progress);
}

/** A stall as the job row keeps it while it lasts (`jobs.stall`): numbered, with when it was seen. */
export interface StoredStall extends Stall {
  /** 1 for the job's first stall, 2 for the next…: the notices' topic (one batch.stalled per stall). */
  number: number;
  detectedAt: number;
}

export type StallNotice =
  | { type: "batch.stalled"; stall: StoredStall }
  | { type: "batch.resumed"; stall: StoredStall; resumedAt: number };

/**
 * What this poll changes: a new stall (reported once), the end of the current one (resumed), or
 * nothing. `count` is how many stalls the job has had.
 */
export function stallTransition(
  current: StoredStall | null,
  count: number,
  history: PollHistory & { provider: ProviderName },
): { stall: StoredStall | null; notice: StallNotice | null } {
  const last = history.observations.at(-1);
  if (!last) return { stall: current, notice: null };
  if (current) {
    const progress = estimateProgress({ ...history, now: last.at }).progress;
    return hasResumed(current, last, progress)
      ? { stall: null, notice: { type: "batch.resumed", stall: current, resumedAt: last.at } }
      : { stall: current, notice: null };
  }
  const detected = detectStall(history);
  if (!detected) return { stall: null, notice: null };
  const stall: StoredStall = { ...detected, number: count + 1, detectedAt: last.at };
  return { stall, notice: { type: "batch.stalled", stall } };
}
