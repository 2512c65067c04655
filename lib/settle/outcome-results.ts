import type { ProviderAdapter, RetrieveOptions, UnifiedSnapshot } from "@/lib/providers/types";

/**
 * Honest outcomes: what the requests of a batch the provider calls `completed` came to. A provider
 * says `completed` when it has finished processing, whether or not any request succeeded (OpenAI
 * then writes no output file at all, only an error file). The verdict is read from the request
 * counts (and, without counts, from the files the provider wrote); for a batch with failed
 * requests the most common error is read from the results through the provider adapter —
 * bounded, so a huge batch costs at most {@link RESULTS_POLICY.maxResults} lines and
 * {@link RESULTS_POLICY.timeBudgetMs}.
 */

export const RESULT_VERDICTS = ["all_succeeded", "partly_failed", "all_failed", "no_requests", "unknown"] as const;
export type ResultVerdict = (typeof RESULT_VERDICTS)[number];

/** Why the verdict is what it is. */
export const RESULT_REASONS = [
  /** Every counted request failed. */
  "every_request_failed",
  /** The provider wrote an error file and no output file: nothing succeeded. */
  "no_output_file",
  /** Some counted requests failed. */
  "some_requests_failed",
  /** Every counted request succeeded. */
  "every_request_succeeded",
  /** The batch held no request. */
  "empty_batch",
  /** The provider reports no counts and no files to tell by. */
  "no_counts",
] as const;
export type ResultReason = (typeof RESULT_REASONS)[number];

export interface CommonError {
  /** The provider's error code, or null when it gives none. */
  code: string | null;
  message: string;
  /** How many of the failed results read carried it. */
  count: number;
}

export interface OutcomeResults {
  verdict: ResultVerdict;
  reason: ResultReason;
  /** The most common error among the failed results read; null when none was read. */
  commonError: CommonError | null;
  /** How many failed results that was counted over (a bounded read: at most the first few thousand). */
  errorsRead: number;
}

export const RESULTS_POLICY = Object.freeze({
  /** Stop reading results after this many lines… */
  maxResults: 5_000,
  /** …or this long, whichever comes first. */
  timeBudgetMs: 15_000,
  /** An error message is compared (and kept) on its first this many characters. */
  maxMessageChars: 300,
});

/** The verdict from what the snapshot says: counts first, then which files the provider wrote. */
export function verdictOf(snapshot: Pick<UnifiedSnapshot, "requestCounts" | "raw">): { verdict: ResultVerdict; reason: ResultReason } {
  const counts = snapshot.requestCounts;
  const outputFile = snapshot.raw?.outputFileId;
  const errorFile = snapshot.raw?.errorFileId;
  const onlyErrors = !outputFile && Boolean(errorFile);
  if (counts && counts.total > 0) {
    if (counts.failed > 0 && counts.completed === 0) return { verdict: "all_failed", reason: onlyErrors ? "no_output_file" : "every_request_failed" };
    if (counts.failed > 0) return { verdict: "partly_failed", reason: "some_requests_failed" };
    if (onlyErrors) return { verdict: "all_failed", reason: "no_output_file" };
    return { verdict: "all_succeeded", reason: "every_request_succeeded" };
  }
  if (onlyErrors) return { verdict: "all_failed", reason: "no_output_file" };
  if (counts && counts.total === 0) return { verdict: "no_requests", reason: "empty_batch" };
  return { verdict: "unknown", reason: "no_counts" };
}

/**
 * The results of a `completed` batch: its verdict and, when requests failed, the most common error
 * (null for other outcomes and kinds, whose event type already says what happened). Never throws:
 * a provider that will not serve its files leaves `commonError` null.
 */
export async function readOutcomeResults(
  adapter: ProviderAdapter,
  snapshot: UnifiedSnapshot,
  options: RetrieveOptions,
  clock: () => number = Date.now,
): Promise<OutcomeResults | null> {
  if (snapshot.kind !== "batch" || snapshot.status !== "completed") return null;
  const { verdict, reason } = verdictOf(snapshot);
  if (verdict !== "all_failed" && verdict !== "partly_failed") return { verdict, reason, commonError: null, errorsRead: 0 };
  const tally = new Map<string, CommonError>();
  let errorsRead = 0;
  const started = clock();
  let lines = 0;
  try {
    for await (const result of adapter.results(snapshot.id, options)) {
      if (++lines > RESULTS_POLICY.maxResults || clock() - started > RESULTS_POLICY.timeBudgetMs) break;
      if (result.ok) continue;
      errorsRead += 1;
      const message = result.error.message.slice(0, RESULTS_POLICY.maxMessageChars);
      const key = `${result.error.code ?? ""}\u0000${message}`;
      const seen = tally.get(key);
      if (seen) seen.count += 1;
      else tally.set(key, { code: result.error.code, message, count: 1 });
    }
  } catch {
    // The verdict stands without the error: files may be gone, or the provider unreachable.
  }
  let commonError: CommonError | null = null;
  for (const candidate of tally.values()) if (!commonError || candidate.count > commonError.count) commonError = candidate;
  return { verdict, reason, commonError, errorsRead };
}
