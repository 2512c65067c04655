import type { z } from "zod";
import { providerTimeoutMs } from "./config";
import { ProviderError, providerErrorFromResponse, toProviderError } from "./errors";

/**
 * SDK clients get a slightly longer timeout than our own deadline, so the deadline always fires
 * first and a timeout is recognised the same way for every SDK and for plain fetch.
 */
export const SDK_TIMEOUT_SLACK_MS = 1_000;

export function sdkTimeoutMs(): number {
  return providerTimeoutMs() + SDK_TIMEOUT_SLACK_MS;
}

/**
 * Runs one provider request under BATCHWATCH_PROVIDER_TIMEOUT_MS and turns whatever it throws into
 * a ProviderError. The deadline covers the whole call for JSON requests; for downloads `run`
 * resolves once headers arrive, after which the line reader's idle timeout takes over.
 */
export async function callProvider<T>(provider: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeoutMs = providerTimeoutMs();
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new ProviderError("timeout", `${provider} did not answer within ${timeoutMs} ms`, { provider }));
  }, timeoutMs);
  try {
    return await run(controller.signal);
  } catch (error) {
    if (expired) {
      throw new ProviderError("timeout", `${provider} did not answer within ${timeoutMs} ms`, { provider, cause: error });
    }
    throw toProviderError(error, provider);
  } finally {
    clearTimeout(timer);
  }
}

/** Validates a provider payload; a mismatch is `invalid_response`, never a crash or a guess. */
export function parseProviderPayload<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  provider: string,
  what: string,
): z.infer<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
  throw new ProviderError("invalid_response", `${provider} returned an unexpected ${what} (${issues})`, {
    provider,
    cause: parsed.error,
  });
}

async function fetchOk(provider: string, url: string, headers: Record<string, string>, signal: AbortSignal) {
  const response = await fetch(url, { headers, signal, redirect: "follow" });
  if (!response.ok) throw await providerErrorFromResponse(response, provider);
  return response;
}

/** GET + JSON + zod, for providers whose SDK does not fit (Gemini, Together, xAI). */
export function fetchJson<Schema extends z.ZodType>(
  provider: string,
  url: string,
  headers: Record<string, string>,
  schema: Schema,
  what: string,
): Promise<z.infer<Schema>> {
  return callProvider(provider, async (signal) => {
    const response = await fetchOk(provider, url, { accept: "application/json", ...headers }, signal);
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new ProviderError("invalid_response", `${provider} returned a ${what} that is not JSON`, { provider, cause: error });
    }
    return parseProviderPayload(schema, body, provider, what);
  });
}

/** GET a file download and hand back its body stream once the headers are in. */
export function fetchBody(provider: string, url: string, headers: Record<string, string>): Promise<ReadableStream<Uint8Array>> {
  return callProvider(provider, async (signal) => bodyOf(await fetchOk(provider, url, headers, signal), provider));
}

export function bodyOf(response: Response, provider: string): ReadableStream<Uint8Array> {
  if (!response.body) throw new ProviderError("invalid_response", `${provider} returned a download without a body`, { provider });
  return response.body;
}
