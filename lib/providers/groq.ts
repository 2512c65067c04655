import type OpenAI from "openai";
import { baseUrlFromEnv, DAY_MS, requireEnv } from "./config";
import { sdkTimeoutMs } from "./http";
import { createOpenAICompatibleAdapter } from "./openai-batch";
import type { ProviderAdapter } from "./types";

/**
 * Groq's OpenAI-compatible batch API through the openai SDK. GROQ_BASE_URL keeps the meaning
 * groq-sdk gives it — the host, `https://api.groq.com` — and the OpenAI-compatible prefix
 * `/openai/v1` is appended here.
 */

const PROVIDER = "groq";
export const GROQ_DEFAULT_BASE_URL = "https://api.groq.com";

async function createGroqClient(): Promise<OpenAI> {
  const env = requireEnv(PROVIDER, ["GROQ_API_KEY"]);
  const { OpenAI } = await import("openai");
  return new OpenAI({
    apiKey: env.GROQ_API_KEY,
    baseURL: `${baseUrlFromEnv("GROQ_BASE_URL", GROQ_DEFAULT_BASE_URL)}/openai/v1`,
    // Never forward OpenAI's organization/project headers (read from OPENAI_* env) to Groq.
    organization: null,
    project: null,
    maxRetries: 0,
    timeout: sdkTimeoutMs(),
  });
}

/** Groq accepts completion windows from 24 h up to 7 days; the watch is bounded by the longest. */
export const groqProvider: ProviderAdapter = createOpenAICompatibleAdapter({
  name: PROVIDER,
  completionWindowMs: 7 * DAY_MS,
  nativeWebhooks: false,
  assertConfigured: () => void requireEnv(PROVIDER, ["GROQ_API_KEY"]),
  createClient: createGroqClient,
});
