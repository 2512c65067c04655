/**
 * Runs bench/eta-accuracy.ts's `runEtaBenchWorkloads` in its own process and prints one
 * `RESULT <json>` line (one report per workload), for the same reason as polling-child.ts: the
 * simulation is synchronous, and here the parent can time it out.
 */
import { ETA_BENCH_BATCHES_PER_SEED, runEtaBenchWorkloads } from "../eta-accuracy";

const reports = runEtaBenchWorkloads(Number(process.env.ETA_BATCHES_PER_SEED ?? ETA_BENCH_BATCHES_PER_SEED));
process.stdout.write(`RESULT ${JSON.stringify(reports)}\n`, () => process.exit(0));
