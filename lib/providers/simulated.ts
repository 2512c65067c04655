import { now as clockNow } from "../clock";
import { DAY_MS, optionalEnv } from "./config";
import { ProviderError } from "./errors";
import { assertBatchKind, makeSnapshot } from "./snapshot";
import type { BatchResult, ProviderAdapter, RequestCounts, RetrieveOptions, UnifiedSnapshot, UnifiedStatus } from "./types";

/**
 * A provider with no network: the id says how long the batch runs and how it ends, e.g.
 * `sim_90s_completed_100`, and optionally: which share of its requests fail, in percent
 * (`_f100`: completed, every request failed); how long it stays queued (validating), as a
 * percentage of the run (`_q40`); and a stretch in which progress stops, from and to a percentage
 * of the run (`_p30-70`: frozen from 30 % to 70 % of the run, then catching up by the end), as a
 * stuck provider would. Used for demos, benchmarks and end-to-end tests of the watch.
 */

const PROVIDER = "simulated";
export const SIMULATED_OUTCOMES = ["completed", "failed", "expired", "cancelled"] as const;
export type SimulatedOutcome = (typeof SIMULATED_OUTCOMES)[number];

const ID_PATTERN =
  /^sim_(\d+)(s|m|h|d)_(completed|failed|expired|cancelled)(?:_(\d+))?(?:_f(\d{1,3}))?(?:_q(\d{1,2}))?(?:_p(\d{1,2})-(\d{1,2}))?$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS } as const;
export const SIMULATED_DEFAULT_TOTAL = 100;
export const SIMULATED_MAX_TOTAL = 1_000_000;
export const SIMULATED_MAX_DURATION_MS = 7 * DAY_MS;

/** Share of processed requests that fail in a `failed` batch, unless the id says otherwise. */
const FAILED_SHARE = 0.2;
/** How far an `expired` batch gets before time runs out, and a `cancelled` one before it is stopped. */
const EXPIRED_REACH = 0.8;
const CANCELLED_REACH = 0.6;
/** Phase lengths: validating lasts 5 % of the run but at most 5 s; finalizing the last 5 %. */
const VALIDATING_SHARE = 0.05;
const VALIDATING_MAX_MS = 5000;
const FINALIZING_SHARE = 0.05;
/** Bounds the "first seen" memory of a long-running process. */
const MAX_REMEMBERED_IDS = 10_000;

export interface SimulatedBatchSpec {
  durationMs: number;
  outcome: SimulatedOutcome;
  total: number;
  /** Share of processed requests that fail, in [0, 1]. */
  failedShare: number;
  /** Share of the run spent validating (queued), when the id says so. */
  validatingShare?: number;
  /** Progress stands still from `pause[0]` to `pause[1]` (shares of the run), when the id says so. */
  pause?: [number, number];
}

/** Parses `sim_<duration>_<outcome>[_<total>]`; anything else is `not_found`, as a real provider would answer. */
export function parseSimulatedId(id: string): SimulatedBatchSpec {
  const match = ID_PATTERN.exec(id);
  const notFound = (why: string) =>
    new ProviderError("not_found", `no simulated batch "${id}": ${why}`, { provider: PROVIDER, status: 404 });
  if (!match) throw notFound("ids look like sim_90s_completed_100 (duration s|m|h|d, outcome, optional total)");
  const [, amount, unit, outcome, totalText, failedText, queuedText, pauseFrom, pauseTo] = match;
  const durationMs = Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  const total = totalText === undefined ? SIMULATED_DEFAULT_TOTAL : Number(totalText);
  if (durationMs <= 0 || durationMs > SIMULATED_MAX_DURATION_MS) throw notFound("duration must be between 1s and 7d");
  if (total < 1 || total > SIMULATED_MAX_TOTAL) throw notFound(`total must be between 1 and ${SIMULATED_MAX_TOTAL}`);
  const failedPercent = failedText === undefined ? (outcome === "failed" ? FAILED_SHARE * 100 : 0) : Number(failedText);
  if (failedPercent > 100) throw notFound("the failed share is a percentage, at most f100");
  const spec: SimulatedBatchSpec = { durationMs, outcome: outcome as SimulatedOutcome, total, failedShare: failedPercent / 100 };
  if (queuedText !== undefined) spec.validatingShare = Number(queuedText) / 100;
  if (pauseFrom !== undefined) {
    const pause: [number, number] = [Number(pauseFrom) / 100, Number(pauseTo) / 100];
    if (!(pause[0] > (spec.validatingShare ?? 0) && pause[0] < pause[1] && pause[1] < 1 - FINALIZING_SHARE)) {
      throw notFound("a pause _pA-B needs validating < A < B < 95");
    }
    spec.pause = pause;
  }
  return spec;
}

interface SimulatedState {
  status: UnifiedStatus;
  counts: RequestCounts;
}

/** How far `outcome` gets: all requests, or the share processed before expiry/cancellation. */
function reachOf(outcome: SimulatedOutcome): number {
  return outcome === "expired" ? EXPIRED_REACH : outcome === "cancelled" ? CANCELLED_REACH : 1;
}

function countsAt(spec: SimulatedBatchSpec, processedShare: number, ended: boolean): RequestCounts {
  const processed = Math.floor(spec.total * Math.min(1, processedShare) * reachOf(spec.outcome));
  const failed = Math.floor(processed * spec.failedShare);
  const pending = spec.total - processed;
  const counts: RequestCounts = { total: spec.total, completed: processed - failed, failed };
  if (!ended) return { ...counts, processing: pending };
  if (spec.outcome === "expired") return { ...counts, expired: pending, processing: 0 };
  if (spec.outcome === "cancelled") return { ...counts, cancelled: pending, processing: 0 };
  return { ...counts, processing: 0 };
}

/** The batch as seen `elapsedMs` after it started. */
export function simulatedStateAt(spec: SimulatedBatchSpec, elapsedMs: number): SimulatedState {
  const { durationMs } = spec;
  if (elapsedMs >= durationMs) return { status: spec.outcome, counts: countsAt(spec, 1, true) };
  const validatingMs =
    spec.validatingShare !== undefined ? durationMs * spec.validatingShare : Math.min(VALIDATING_MAX_MS, durationMs * VALIDATING_SHARE);
  const finalizingFrom = durationMs * (1 - FINALIZING_SHARE);
  if (elapsedMs < validatingMs) return { status: "validating", counts: countsAt(spec, 0, false) };
  if (elapsedMs >= finalizingFrom) {
    // A cancelled batch spends its last stretch cancelling rather than finalizing.
    return { status: spec.outcome === "cancelled" ? "cancelling" : "finalizing", counts: countsAt(spec, 1, false) };
  }
  const linear = (ms: number) => (ms - validatingMs) / (finalizingFrom - validatingMs);
  let share = linear(elapsedMs);
  if (spec.pause) {
    const [from, to] = spec.pause.map((each) => each * durationMs) as [number, number];
    const frozen = linear(from);
    // Still from `from` to `to`, then the rest at a quicker pace, done by finalizing as planned.
    if (elapsedMs >= from) share = elapsedMs < to ? frozen : frozen + ((1 - frozen) * (elapsedMs - to)) / (finalizingFrom - to);
  }
  return { status: "in_progress", counts: countsAt(spec, share, false) };
}

export interface SimulatedProviderOptions {
  /** Injectable clock so tests can freeze and move time. */
  now?: () => number;
}

export function isSimulatedProviderEnabled(): boolean {
  const flag = optionalEnv("BATCHWATCH_SIMULATED_PROVIDER")?.toLowerCase();
  return flag === "1" || flag === "true";
}

function assertEnabled(): void {
  if (!isSimulatedProviderEnabled()) {
    throw new ProviderError("not_enabled", "the simulated provider is off: set BATCHWATCH_SIMULATED_PROVIDER=1", {
      provider: PROVIDER,
    });
  }
}

export function createSimulatedProvider(options: SimulatedProviderOptions = {}): ProviderAdapter {
  // batchwatch's clock (lib/clock), so a frozen clock in tests moves simulated batches too.
  const now = options.now ?? clockNow;
  const firstSeen = new Map<string, number>();

  /** Start of the batch: the watch's trackedAt, else the first time this process saw the id. */
  function startOf(id: string, trackedAt: number | undefined): number {
    if (trackedAt !== undefined) return trackedAt;
    const seen = firstSeen.get(id);
    if (seen !== undefined) return seen;
    if (firstSeen.size >= MAX_REMEMBERED_IDS) firstSeen.delete(firstSeen.keys().next().value!);
    const start = now();
    firstSeen.set(id, start);
    return start;
  }

  function snapshot(id: string, retrieveOptions: RetrieveOptions | undefined): { spec: SimulatedBatchSpec; state: SimulatedState; value: UnifiedSnapshot } {
    assertEnabled();
    assertBatchKind(PROVIDER, retrieveOptions);
    const spec = parseSimulatedId(id);
    const start = startOf(id, retrieveOptions?.trackedAt);
    const state = simulatedStateAt(spec, Math.max(0, now() - start));
    const endsAt = new Date(start + spec.durationMs).toISOString();
    const value = makeSnapshot({
      provider: PROVIDER,
      kind: "batch",
      id,
      status: state.status,
      providerStatus: state.status,
      requestCounts: state.counts,
      createdAt: new Date(start).toISOString(),
      endedAt: state.status === spec.outcome ? endsAt : null,
      expiresAt: endsAt,
      raw: { durationMs: spec.durationMs, outcome: spec.outcome },
      detail: null,
    });
    return { spec, state, value };
  }

  async function* results(id: string, retrieveOptions?: RetrieveOptions): AsyncGenerator<BatchResult> {
    const { state } = snapshot(id, retrieveOptions);
    const { completed, failed, expired = 0, cancelled = 0 } = state.counts;
    // Request i's fate follows the counts: first the successes, then failures, then the unprocessed.
    for (let index = 0; index < completed + failed + expired + cancelled; index += 1) {
      const customId = `request-${index + 1}`;
      if (index < completed) {
        yield { ok: true, customId, body: { simulated: true, index: index + 1, output: `result ${index + 1}` } };
      } else if (index < completed + failed) {
        yield { ok: false, customId, error: { code: "simulated_failure", message: "the simulated request failed" } };
      } else if (index < completed + failed + expired) {
        yield { ok: false, customId, error: { code: "batch_expired", message: "the batch expired before this request ran" } };
      } else {
        yield { ok: false, customId, error: { code: "batch_cancelled", message: "the batch was cancelled before this request ran" } };
      }
    }
  }

  return {
    name: PROVIDER,
    supportedKinds: ["batch"],
    nativeWebhooks: false,
    completionWindowMs: SIMULATED_MAX_DURATION_MS,
    assertConfigured: assertEnabled,
    retrieve: async (id, retrieveOptions) => snapshot(id, retrieveOptions).value,
    results,
  };
}

export const simulatedProvider: ProviderAdapter = createSimulatedProvider();
