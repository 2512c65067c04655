import { inngest } from "@/inngest/client";
import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { deleteExpiredHistory, type PruneResult } from "@/lib/ops/retention";

/** Each step deletes for about this long (in bounded batches), then hands over to the next. */
const PRUNE_STEP_BUDGET_MS = 20_000;
/** Enough steps for a prune that missed weeks; whatever is left waits for tomorrow's run. */
const MAX_PRUNE_STEPS = 50;

/**
 * Daily at 03:30 UTC (a quiet hour): deletes history older than BATCHWATCH_RETENTION_DAYS, in
 * steps of bounded batches until nothing is left (a missed week takes more steps, not a longer
 * statement). Every step uses the first step's cutoff.
 */
export const pruneRetention = inngest.createFunction(
  { id: "prune-retention", name: "Prune history past the retention period", triggers: [{ cron: "TZ=UTC 30 3 * * *" }], retries: 2 },
  async ({ step }) => {
    const olderThanDays = readConfig().retentionDays;
    let total: PruneResult | undefined;
    for (let index = 0; index < MAX_PRUNE_STEPS && !total?.done; index++) {
      const result = await step.run(`prune-${index}`, async () =>
        deleteExpiredHistory(await getDb(), { olderThanDays, budgetMs: PRUNE_STEP_BUDGET_MS, cutoff: total?.cutoff }),
      );
      total = total ? addUp(total, result) : result;
    }
    return total;
  },
);

function addUp(total: PruneResult, next: PruneResult): PruneResult {
  return {
    cutoff: total.cutoff,
    inboundEvents: total.inboundEvents + next.inboundEvents,
    deliveryAttempts: total.deliveryAttempts + next.deliveryAttempts,
    jobs: total.jobs + next.jobs,
    // A step memoised before groups were pruned has no count of them.
    groups: (total.groups ?? 0) + (next.groups ?? 0),
    testDeliveries: total.testDeliveries + next.testDeliveries,
    sentOutboxEvents: total.sentOutboxEvents + next.sentOutboxEvents,
    statements: total.statements + next.statements,
    done: next.done,
  };
}
