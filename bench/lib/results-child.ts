/**
 * The measured side of the results benchmark, in its own process so its memory is its own:
 * streams `getProvider("openai").results(RESULTS_BATCH_ID)` (OPENAI_BASE_URL points at the
 * benchmark's fake OpenAI server) and samples process.memoryUsage() every 20 ms and at every
 * tenth of the expected lines. The baseline is taken after the imports and a full GC (run with
 * --expose-gc), before the first request. Prints one `RESULT <json>` line.
 */
import { getProvider } from "@/lib/providers";

const batchId = process.env.RESULTS_BATCH_ID ?? "batch_bench";
const expected = Number(process.env.RESULTS_EXPECTED ?? "0");
const MB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

async function main() {
  const provider = getProvider("openai");
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc?.();
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakHeap = baseline.heapUsed;
  let peakExternal = baseline.external + baseline.arrayBuffers;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    if (m.external + m.arrayBuffers > peakExternal) peakExternal = m.external + m.arrayBuffers;
    return m;
  };
  const timer = setInterval(sample, 20);
  const checkpoints: { lines: number; rssMB: number; heapUsedMB: number; ms: number }[] = [];
  const step = Math.max(1, Math.floor(expected / 10));
  let lines = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  for await (const result of provider.results(batchId)) {
    lines += 1;
    if (result.ok) ok += 1;
    else failed += 1;
    if (lines % step === 0) {
      const m = sample();
      checkpoints.push({
        lines,
        rssMB: Math.round((m.rss / MB) * 10) / 10,
        heapUsedMB: Math.round((m.heapUsed / MB) * 10) / 10,
        ms: Math.round(performance.now() - started),
      });
    }
  }
  const elapsedMs = performance.now() - started;
  clearInterval(timer);
  sample();
  console.log(
    "RESULT " +
      JSON.stringify({
        lines,
        ok,
        failed,
        elapsedMs: Math.round(elapsedMs),
        linesPerSec: Math.round(lines / (elapsedMs / 1000)),
        baseline: { rssMB: baseline.rss / MB, heapUsedMB: baseline.heapUsed / MB },
        peak: { rssMB: peakRss / MB, heapUsedMB: peakHeap / MB, externalMB: peakExternal / MB },
        checkpoints,
        gcExposed: Boolean(gc),
      }),
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  },
);
