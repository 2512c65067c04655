import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { currentMigrationVersion } from "@/lib/db/migrations";

/** What `/api/health` reports: which parts are configured, never a secret value. */
export async function readHealth() {
  const config = readConfig();
  let database: { driver: string; migrationVersion: number | null; ok: boolean; error?: string };
  try {
    const db = await getDb();
    database = { driver: db.driver, migrationVersion: await currentMigrationVersion(db), ok: true };
  } catch (error) {
    database = {
      driver: config.database.driver,
      migrationVersion: null,
      ok: false,
      error: error instanceof Error ? error.message : "unreachable",
    };
  }
  return {
    ok: database.ok,
    database,
    inngest: {
      mode: config.inngest.mode,
      eventKeySet: config.inngest.eventKeySet,
      signingKeySet: config.inngest.signingKeySet,
    },
    webhooks: {
      defaultSecretSet: config.defaultWebhookSecret !== undefined,
      openaiNativeSignals: config.openaiWebhookSecret !== undefined,
      geminiNativeSignals: config.geminiWebhookSecret !== undefined,
      allowPrivateDestinations: config.allowPrivateWebhooks,
    },
    apiKeySet: config.apiKeys.length > 0,
    simulatedProvider: config.simulatedProvider,
  };
}
