/**
 * Runs bench/polling-economy.ts's `runBenchWorkloads` in its own process and prints one
 * `RESULT <json>` line (the reports, one per workload). The simulation is synchronous: in the
 * benchmark's own process a runaway schedule would block its event loop (and its watchdog); here
 * the parent can time it out and kill it.
 */
import { BENCH_BATCHES_PER_SEED, runBenchWorkloads } from "../polling-economy";

const batchesPerSeed = Number(process.env.POLLING_BATCHES_PER_SEED ?? BENCH_BATCHES_PER_SEED);
const reports = runBenchWorkloads(batchesPerSeed, (r) =>
  process.stderr.write(`polling: workload ${r.variant}, ${r.batches} batches in ${r.elapsedMs} ms\n`),
);
process.stdout.write(`RESULT ${JSON.stringify(reports)}\n`, () => process.exit(0));
