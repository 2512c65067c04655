import { afterEach } from "vitest";
import { applyEnv } from "../../helpers/env";

/**
 * Sets environment variables for one test and restores them afterwards. Providers read
 * process.env at each call, so tests change it freely after import.
 */
const saved = new Map<string, string | undefined>();

export function setEnv(vars: Record<string, string | undefined>): void {
  for (const name of Object.keys(vars)) if (!saved.has(name)) saved.set(name, process.env[name]);
  applyEnv(vars);
}

export function restoreEnv(): void {
  applyEnv(Object.fromEntries(saved));
  saved.clear();
}

/** Every credential and base-URL variable the providers read, cleared so the machine's own never leak in. */
export const PROVIDER_ENV_NAMES = [
  "OPENAI_API_KEY",
  "OPENAI_BASE_URL",
  "OPENAI_ORG_ID",
  "OPENAI_PROJECT_ID",
  "AZURE_OPENAI_API_KEY",
  "AZURE_OPENAI_ENDPOINT",
  "AZURE_OPENAI_API_VERSION",
  "OPENAI_API_VERSION",
  "GROQ_API_KEY",
  "GROQ_BASE_URL",
  "TOGETHER_API_KEY",
  "TOGETHER_BASE_URL",
  "XAI_API_KEY",
  "XAI_BASE_URL",
  "ANTHROPIC_API_KEY",
  "ANTHROPIC_AUTH_TOKEN",
  "ANTHROPIC_BASE_URL",
  "GEMINI_API_KEY",
  "GEMINI_BASE_URL",
  "MISTRAL_API_KEY",
  "MISTRAL_BASE_URL",
  "BATCHWATCH_PROVIDER_TIMEOUT_MS",
] as const;

/** Registers env isolation for the calling test file: a clean provider environment per test. */
export function isolateProviderEnv(): void {
  const clear = () => setEnv(Object.fromEntries(PROVIDER_ENV_NAMES.map((name) => [name, undefined])));
  clear();
  afterEach(() => {
    restoreEnv();
    clear();
  });
}
