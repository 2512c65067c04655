import { anthropicProvider } from "./anthropic";
import { azureProvider } from "./azure";
import { ProviderError } from "./errors";
import { geminiProvider, geminiResourceName } from "./gemini";
import { groqProvider } from "./groq";
import { mistralProvider } from "./mistral";
import { openaiProvider } from "./openai";
import { simulatedProvider } from "./simulated";
import { togetherProvider } from "./together";
import { PROVIDER_NAMES, type ProviderAdapter, type ProviderName } from "./types";
import { xaiProvider } from "./xai";

/**
 * The provider registry. Adapters hold no configuration: each call of retrieve/results reads keys
 * and base URLs from process.env, so importing this module never needs credentials.
 */

const ADAPTERS: Readonly<Record<ProviderName, ProviderAdapter>> = {
  openai: openaiProvider,
  azure: azureProvider,
  groq: groqProvider,
  together: togetherProvider,
  xai: xaiProvider,
  anthropic: anthropicProvider,
  gemini: geminiProvider,
  mistral: mistralProvider,
  simulated: simulatedProvider,
};

export function isProviderName(name: unknown): name is ProviderName {
  return typeof name === "string" && (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** Synchronous and credential-free; an unknown name is ProviderError `unknown_provider`. */
export function getProvider(name: string): ProviderAdapter {
  if (!isProviderName(name)) {
    throw new ProviderError("unknown_provider", `unknown provider "${name}"; expected one of ${PROVIDER_NAMES.join(", ")}`);
  }
  return ADAPTERS[name];
}

/**
 * The one spelling batchwatch stores a provider's job id under, so a job tracked as `123` and a
 * Gemini webhook about `batches/123` meet. Only Gemini has two spellings.
 */
export function canonicalBatchId(provider: ProviderName, id: string): string {
  return provider === "gemini" ? geminiResourceName(id) : id;
}

export * from "./types";
export {
  isProviderError,
  parseRetryAfterMs,
  PROVIDER_ERROR_CODES,
  ProviderError,
  providerErrorFromResponse,
  providerErrorFromStatus,
  RETRYABLE_PROVIDER_ERROR_CODES,
  toProviderError,
  type ProviderErrorCode,
} from "./errors";
export { createSimulatedProvider, isSimulatedProviderEnabled, parseSimulatedId } from "./simulated";
