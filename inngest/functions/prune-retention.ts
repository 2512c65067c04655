import { inngest } from "@/inngest/client";
import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { pruneRetention } from "@/lib/ops/retention";

/** Daily at 03:30 UTC (a quiet hour): deletes history older than BATCHWATCH_RETENTION_DAYS. */
export const pruneRetentionFunction = inngest.createFunction(
  { id: "prune-retention", name: "Prune history past the retention period", triggers: [{ cron: "TZ=UTC 30 3 * * *" }], retries: 2 },
  async ({ step }) =>
    step.run("prune", async () => pruneRetention(await getDb(), { olderThanDays: readConfig().retentionDays })),
);
