import { ProviderError } from "./errors";
import { isTerminal, type ProviderName, type RequestCounts, type RetrieveOptions, type UnifiedSnapshot, type UnifiedStatus } from "./types";

/** Helpers every provider uses to build a UnifiedSnapshot the same way. */

export type StatusTable = Readonly<Record<string, UnifiedStatus>>;

/** Looks a provider status up in its table; an unknown status is `invalid_response`, never a guess. */
export function mapStatus(table: StatusTable, providerStatus: string, provider: string): UnifiedStatus {
  if (Object.hasOwn(table, providerStatus)) return table[providerStatus]!;
  throw new ProviderError("invalid_response", `${provider} reported an unknown status "${providerStatus}"`, { provider });
}

export function unixSecondsToIso(seconds: number | null | undefined): string | null {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return null;
  return new Date(seconds * 1000).toISOString();
}

/** Normalises an RFC 3339 timestamp to ISO-8601 UTC; null when absent or unparseable. */
export function rfc3339ToIso(value: string | null | undefined): string | null {
  if (!value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

/** Share of requests that are no longer pending, 0–1; null without counts or with an empty batch. */
export function progressFromCounts(counts: RequestCounts | null): number | null {
  if (!counts || counts.total <= 0) return null;
  const done =
    counts.processing !== undefined
      ? counts.total - counts.processing
      : counts.completed + counts.failed + (counts.cancelled ?? 0) + (counts.expired ?? 0);
  return Math.min(1, Math.max(0, done / counts.total));
}

/** Drops null/undefined entries so `raw` stays a small, readable debugging subset. */
export function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null && value !== undefined));
}

export type SnapshotFields = Omit<UnifiedSnapshot, "terminal" | "progress" | "raw"> & {
  progress?: number | null;
  raw: Record<string, unknown>;
};

/** Fills `terminal` from the status and `progress` from the counts unless the provider gave its own. */
export function makeSnapshot(fields: SnapshotFields): UnifiedSnapshot {
  return {
    ...fields,
    terminal: isTerminal(fields.status),
    progress: fields.progress === undefined ? progressFromCounts(fields.requestCounts) : fields.progress,
    raw: compact(fields.raw),
  };
}

/** Every provider but OpenAI watches batches only; other kinds are `unsupported`. */
export function assertBatchKind(provider: ProviderName, options: RetrieveOptions | undefined): void {
  const kind = options?.kind ?? "batch";
  if (kind !== "batch") {
    throw new ProviderError("unsupported", `${provider} supports only batch jobs, not ${kind}`, { provider });
  }
}
