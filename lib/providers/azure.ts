import type { AzureOpenAI } from "openai";
import { DAY_MS, requireEnv } from "./config";
import { sdkTimeoutMs } from "./http";
import { createOpenAICompatibleAdapter } from "./openai-batch";
import type { ProviderAdapter } from "./types";

/**
 * Azure OpenAI through the openai SDK's AzureOpenAI class: `{AZURE_OPENAI_ENDPOINT}/openai/batches`
 * with `?api-version=`. The base URL is passed explicitly so the SDK never falls back to
 * OPENAI_BASE_URL (which belongs to the openai provider).
 */

const PROVIDER = "azure";
const REQUIRED_ENV = ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_VERSION"] as const;

async function createAzureClient(): Promise<AzureOpenAI> {
  const env = requireEnv(PROVIDER, REQUIRED_ENV);
  const { AzureOpenAI } = await import("openai");
  const endpoint = env.AZURE_OPENAI_ENDPOINT.replace(/\/+$/, "");
  return new AzureOpenAI({
    apiKey: env.AZURE_OPENAI_API_KEY,
    apiVersion: env.AZURE_OPENAI_API_VERSION,
    // The SDK builds the same URL from `endpoint`, but only `baseURL` stops it reading OPENAI_BASE_URL.
    baseURL: endpoint.endsWith("/openai") ? endpoint : `${endpoint}/openai`,
    // Never forward OpenAI organization/project headers (read from OPENAI_* env) to Azure.
    organization: null,
    project: null,
    maxRetries: 0,
    timeout: sdkTimeoutMs(),
  });
}

/** Azure's global batch deployments have the same 24 h target as OpenAI, after which a batch expires. */
export const azureProvider: ProviderAdapter = createOpenAICompatibleAdapter({
  name: PROVIDER,
  completionWindowMs: DAY_MS,
  nativeWebhooks: false,
  assertConfigured: () => void requireEnv(PROVIDER, REQUIRED_ENV),
  createClient: createAzureClient,
});
