/** Small statistics and reporting helpers shared by the benchmark sections. */

/** Nearest-rank percentile of an ascending array (q in [0, 1]). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export function median(values: readonly number[]): number {
  return percentile(sortedCopy(values), 0.5);
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export const MB = 1024 * 1024;

/** One measured number, with its target if it has one. */
export interface Metric {
  section: string;
  name: string;
  value: number | string;
  unit?: string;
  /** Human-readable target, e.g. "≥ 0.5". */
  target?: string;
  /** true = met, false = not met, undefined = no target (information only). */
  met?: boolean;
}

/** What every section returns: its metrics (for the table), details (for --json), notes. */
export interface SectionResult {
  section: string;
  metrics: Metric[];
  details: Record<string, unknown>;
  notes: string[];
  /** Set when the section could not run; the table shows it. */
  error?: string;
  elapsedMs: number;
}

function formatValue(metric: Metric): string {
  const { value, unit } = metric;
  const text =
    typeof value === "number"
      ? Number.isInteger(value)
        ? value.toLocaleString("en-US")
        : Math.abs(value) >= 100
          ? value.toFixed(0)
          : Math.abs(value) >= 10
            ? value.toFixed(1)
            : value.toFixed(Math.abs(value) >= 1 ? 2 : 3)
      : value;
  return unit ? `${text} ${unit}` : text;
}

/** A table with aligned columns: text columns left-aligned, the value column right-aligned. */
export function formatTable(metrics: readonly Metric[]): string {
  const header = ["section", "metric", "value", "target", "status"];
  const rows = metrics.map((m) => [
    m.section,
    m.name,
    formatValue(m),
    m.target ?? "",
    m.met === undefined ? "" : m.met ? "met" : "NOT MET",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Runs `fn` and turns a throw into a section result with an error instead of failing the bench. */
export async function guardSection(section: string, fn: () => Promise<SectionResult>): Promise<SectionResult> {
  const started = performance.now();
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      section,
      metrics: [{ section, name: "section failed to run", value: message.split("\n")[0]!.slice(0, 120) }],
      details: { error: error instanceof Error ? error.stack : String(error) },
      notes: [],
      error: message,
      elapsedMs: Math.round(performance.now() - started),
    };
  }
}

/** Progress output: always to stderr, so `--json` keeps stdout to one JSON object. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
