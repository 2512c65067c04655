import { inngest } from "@/inngest/client";
import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { deleteExpiredHistory } from "@/lib/ops/retention";

/** Daily at 03:30 UTC (a quiet hour): deletes history older than BATCHWATCH_RETENTION_DAYS. */
export const pruneRetention = inngest.createFunction(
  { id: "prune-retention", name: "Prune history past the retention period", triggers: [{ cron: "TZ=UTC 30 3 * * *" }], retries: 2 },
  async ({ step }) =>
    step.run("prune", async () => deleteExpiredHistory(await getDb(), { olderThanDays: readConfig().retentionDays })),
);
