import { type Config, ConfigError, configProblems, MIN_API_KEY_LENGTH, readConfig } from "@/lib/config";
import { getProvider, ProviderError } from "@/lib/providers";
import { PROVIDER_NAMES } from "@/lib/providers/types";
import { inngestServeOrigin } from "./serve-origin";

/**
 * What a server says about its configuration when it starts (instrumentation.ts): every malformed
 * setting, one line each — then it refuses to start — and every missing one, one line each with
 * what it disables. Lines name variables, never values.
 */
export interface ConfigReport {
  /** Malformed settings: the server does not start. */
  invalid: string[];
  /** Settings that are not set, and what that disables. */
  missing: string[];
}

export function configReport(env: NodeJS.ProcessEnv = process.env): ConfigReport {
  const invalid = configProblems(env);
  if (invalid.length > 0) return { invalid, missing: [] };
  return { invalid, missing: missingSettings(readConfig(env), env) };
}

function missingSettings(config: Config, env: NodeJS.ProcessEnv): string[] {
  const missing: string[] = [];
  const note = (variable: string, disables: string) => missing.push(`${variable} is not set: ${disables}`);
  if (config.apiKeys.length === 0) note("BATCHWATCH_API_KEY", "the API and the dashboard refuse every request");
  if (config.apiKeys.some((key) => key.length < MIN_API_KEY_LENGTH)) {
    missing.push(`BATCHWATCH_API_KEY holds a key shorter than ${MIN_API_KEY_LENGTH} characters: it can be guessed, and it is refused on Vercel`);
  }
  if (!config.sessionSecret) note("BATCHWATCH_SESSION_SECRET", "nobody can sign in to the dashboard");
  if (!config.defaultWebhookSecret) {
    note("BATCH_WEBHOOK_SECRET", "tracking to a webhookUrl is refused (named endpoints still work), and the example receiver verifies nothing");
  }
  if (!config.encryptionKey) note("BATCHWATCH_ENCRYPTION_KEY", "named endpoints cannot be created or used (their secrets are encrypted with it)");
  if (!config.openaiWebhookSecret) note("OPENAI_WEBHOOK_SECRET", "OpenAI webhooks are refused; OpenAI jobs settle by polling alone");
  if (!config.geminiWebhookSecret) note("GEMINI_WEBHOOK_SECRET", "Gemini webhooks are refused; Gemini batches settle by polling alone");
  if (config.inngest.mode === "cloud") {
    if (!config.inngest.eventKeySet) note("INNGEST_EVENT_KEY", "no event reaches Inngest Cloud, so nothing tracked is watched (events wait in the outbox)");
    if (!config.inngest.signingKeySet) note("INNGEST_SIGNING_KEY", "Inngest Cloud cannot call this app's functions");
    if (!inngestServeOrigin(env)) {
      note("INNGEST_SERVE_ORIGIN", "an unsigned PUT /api/inngest (registration) is refused; sync from the Inngest dashboard, or set it to this app's public origin");
    }
  }
  for (const name of PROVIDER_NAMES) {
    if (name === "simulated") continue;
    try {
      getProvider(name).assertConfigured();
    } catch (error) {
      if (!(error instanceof ProviderError) && !(error instanceof ConfigError)) throw error;
      missing.push(`${error.message}: ${name} jobs cannot be tracked`);
    }
  }
  return missing;
}

/** Prints the report, one line per setting, and throws when a setting is malformed. */
export function announceConfiguration(env: NodeJS.ProcessEnv = process.env): ConfigReport {
  const report = configReport(env);
  for (const line of report.invalid) console.error(`[batchwatch] CONFIG INVALID ${line}`);
  for (const line of report.missing) console.warn(`[batchwatch] CONFIG NOT SET ${line}`);
  if (report.invalid.length > 0) throw new Error(`batchwatch does not start, its configuration is malformed: ${report.invalid.join("; ")}`);
  return report;
}
