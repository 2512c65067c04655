import { ProviderError } from "./errors";

/**
 * Configuration is read from process.env at every call, never cached at import, so keys set
 * after startup (tests, secret rotation) are honoured and a missing key fails only when used.
 */

export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000;

/** An unset or blank variable is treated as absent. */
export function optionalEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value ? value : undefined;
}

/** Returns every named variable, or throws `credentials` naming all that are missing. */
export function requireEnv<const Names extends readonly string[]>(
  provider: string,
  names: Names,
): Record<Names[number], string> {
  const missing = names.filter((name) => optionalEnv(name) === undefined);
  if (missing.length > 0) {
    const list = missing.join(", ");
    throw new ProviderError("credentials", `${provider} is not configured: set ${list}`, { provider });
  }
  return Object.fromEntries(names.map((name) => [name, optionalEnv(name)])) as Record<Names[number], string>;
}

/** BATCHWATCH_PROVIDER_TIMEOUT_MS, the bound on every provider request (default 30 s). */
export function providerTimeoutMs(): number {
  const configured = Number(optionalEnv("BATCHWATCH_PROVIDER_TIMEOUT_MS"));
  return Number.isFinite(configured) && configured > 0 ? Math.floor(configured) : DEFAULT_PROVIDER_TIMEOUT_MS;
}

/** The base-URL override, or the SDK's own default, without trailing slashes. */
export function baseUrlFromEnv(variable: string, defaultUrl: string): string {
  return (optionalEnv(variable) ?? defaultUrl).replace(/\/+$/, "");
}

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
