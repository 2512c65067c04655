/**
 * Runs bench/polling-economy.ts's `runPollingEconomy` in its own process and prints one
 * `RESULT <json>` line. The simulation is synchronous: in the benchmark's own process a runaway
 * schedule would block its event loop (and its watchdog); here the parent can time it out and kill it.
 */
import { runPollingEconomy } from "../polling-economy";

const seed = Number(process.env.POLLING_SEED ?? "1");
const batches = Number(process.env.POLLING_BATCHES ?? "10000");
const report = runPollingEconomy({ seed, batches });
process.stdout.write(`RESULT ${JSON.stringify(report)}\n`, () => process.exit(0));
