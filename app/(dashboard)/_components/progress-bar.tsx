import type { RequestCounts } from "@/lib/providers/types";
import { count, progressBreakdown } from "@/lib/dashboard/format";

/**
 * Completed / failed / remaining requests as one stacked bar of a fixed width (so 8/8 and
 * 48,190/48,213 draw on the same scale), the counts with thousands separators and the share
 * processed. The bar is decoration for the eye; screen readers get the same numbers as a sentence.
 */
export function ProgressBar({
  counts,
  progress,
  settled,
}: {
  counts: RequestCounts | null;
  progress: number | null;
  settled: boolean;
}) {
  const breakdown = progressBreakdown(counts, settled);
  if (!breakdown) {
    if (progress === null) return <span className="muted">no counts yet</span>;
    const percent = Math.floor(Math.min(Math.max(progress, 0), 1) * 1000) / 10;
    return (
      <div className="progress">
        <div className="progress-track" aria-hidden="true">
          <span className="progress-completed" style={{ width: `${percent}%` }} />
        </div>
        <span className="progress-text">{percent}% done</span>
      </div>
    );
  }
  return (
    <div className="progress">
      <div className="progress-track" aria-hidden="true">
        <span className="progress-completed" style={{ width: `${breakdown.percent.completed}%` }} />
        <span className="progress-failed" style={{ width: `${breakdown.percent.failed}%` }} />
      </div>
      <span className="progress-text" aria-hidden="true">
        {count(breakdown.completed)}/{count(breakdown.total)} · {breakdown.processedPercent}%
        {breakdown.failed > 0 ? <span className="text-bad block">{count(breakdown.failed)} failed</span> : null}
      </span>
      <span className="visually-hidden">{breakdown.description}</span>
    </div>
  );
}
