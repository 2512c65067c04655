import { z } from "zod";
import { decodeSecret } from "@/lib/security/standard-webhooks";

function isDecodableSecret(secret: string): boolean {
  try {
    return decodeSecret(secret).length > 0;
  } catch {
    return false;
  }
}

/**
 * All of batchwatch's own configuration, read from the environment and validated in one place.
 * It is parsed on every call (cheap) so that tests and long-lived processes see changes; a wrong
 * value throws a {@link ConfigError} that names the variable and never its value, and
 * `instrumentation.ts` reads it once at start-up so a deployment with a wrong value does not start.
 * (Provider credentials are read by each provider when a batch of it is tracked: lib/providers.)
 */
const flag = z
  .enum(["0", "1", "true", "false", ""])
  .optional()
  .transform((value) => value === "1" || value === "true");

const positiveInt = (fallback: number, max = Number.MAX_SAFE_INTEGER, why = "") =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed <= 0) {
        ctx.addIssue({ code: "custom", message: "must be a positive whole number" });
        return z.NEVER;
      }
      if (parsed > max) {
        ctx.addIssue({ code: "custom", message: `must be at most ${max}${why}` });
        return z.NEVER;
      }
      return parsed;
    });

/** Retries of a delivery after its first attempt: Inngest allows at most 20 (about two days here). */
export const MAX_DELIVERY_RETRIES = 20;

/** Each poll costs two steps (poll and sleep), and one Inngest run holds at most 1,000 steps. */
export const MAX_POLLS_PER_RUN = 450;
/**
 * The longest a delivery attempt and a provider request may be given: a step holding one of them
 * must end within one call of /api/inngest (its `maxDuration`, app/api/inngest/route.ts).
 */
export const MAX_DELIVERY_TIMEOUT_MS = 60_000;
export const MAX_PROVIDER_TIMEOUT_MS = 120_000;
const FITS_A_STEP = " (a step must finish within one call of /api/inngest: its maxDuration)";

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

export const ENCRYPTION_KEY_BYTES = 32;

/** API keys shorter than this are refused on Vercel and warned about elsewhere (guessable). */
export const MIN_API_KEY_LENGTH = 24;

/** A 32-byte key in base64 (standard or URL-safe), decoded. */
const encryptionKey = optionalString.transform((text, ctx) => {
  if (text === undefined) return undefined;
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (bytes.length !== ENCRYPTION_KEY_BYTES) {
    ctx.addIssue({
      code: "custom",
      message: `must be ${ENCRYPTION_KEY_BYTES} random bytes in base64 (generate one with: openssl rand -base64 32)`,
    });
    return z.NEVER;
  }
  return bytes;
});

const configSchema = z.object({
  DATABASE_URL: optionalString.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL").optional(),
  ),
  DATABASE_DRIVER: optionalString.pipe(z.enum(["neon", "pg", "pglite"]).optional()),
  BATCHWATCH_DATA_DIR: optionalString,
  VERCEL: optionalString,
  VERCEL_ENV: optionalString,
  BATCHWATCH_API_KEY: optionalString,
  BATCHWATCH_SESSION_SECRET: optionalString.pipe(
    z.string().min(32, "must be at least 32 characters").optional(),
  ),
  BATCH_WEBHOOK_SECRET: optionalString.pipe(
    z.string().startsWith("whsec_", 'must start with "whsec_"').optional(),
  ),
  OPENAI_WEBHOOK_SECRET: optionalString,
  // Checked here, not when the first webhook arrives: a secret that cannot be decoded would make
  // every Gemini webhook fail.
  GEMINI_WEBHOOK_SECRET: optionalString.pipe(
    z
      .string()
      .refine(isDecodableSecret, 'must be "whsec_" followed by base64, as Google AI Studio shows it')
      .optional(),
  ),
  BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: flag,
  BATCHWATCH_TRUSTED_PROXY: flag,
  BATCHWATCH_SIMULATED_PROVIDER: flag,
  BATCHWATCH_BENCH_ROUTES: flag,
  BATCHWATCH_RETENTION_DAYS: positiveInt(30),
  BATCHWATCH_DELIVERY_TIMEOUT_MS: positiveInt(15_000, MAX_DELIVERY_TIMEOUT_MS, FITS_A_STEP),
  BATCHWATCH_PROVIDER_TIMEOUT_MS: positiveInt(30_000, MAX_PROVIDER_TIMEOUT_MS, FITS_A_STEP),
  BATCHWATCH_DELIVERY_RETRIES: positiveInt(MAX_DELIVERY_RETRIES, MAX_DELIVERY_RETRIES, " (Inngest's limit)"),
  BATCHWATCH_POLLS_PER_RUN: positiveInt(200, MAX_POLLS_PER_RUN, " (each poll is two steps of a run, which holds at most 1,000)"),
  BATCHWATCH_ENCRYPTION_KEY: encryptionKey,
  BATCHWATCH_ENCRYPTION_KEY_PREVIOUS: encryptionKey,
  INNGEST_DEV: optionalString,
  INNGEST_EVENT_KEY: optionalString,
  INNGEST_SIGNING_KEY: optionalString,
  INNGEST_BASE_URL: optionalString,
});

type RawConfig = z.infer<typeof configSchema>;

export type DatabaseDriver = "neon" | "pg" | "pglite";

export interface Config {
  database:
    | { driver: "pglite"; dataDir: string }
    | { driver: "pg" | "neon"; url: string };
  onVercel: boolean;
  /** A proxy in front appends the client's address to X-Forwarded-For (its last hop is trusted). */
  trustedProxy: boolean;
  apiKeys: string[];
  sessionSecret?: string;
  defaultWebhookSecret?: string;
  openaiWebhookSecret?: string;
  geminiWebhookSecret?: string;
  allowPrivateWebhooks: boolean;
  simulatedProvider: boolean;
  /** `POST /api/bench/constant` answers instead of 404 (the benchmark's measure of Next itself). */
  benchRoutes: boolean;
  retentionDays: number;
  deliveryTimeoutMs: number;
  /** Retries of a delivery after its first attempt before it is given up (default and most: 20). */
  deliveryRetries: number;
  /** The bound on every provider request. */
  providerTimeoutMs: number;
  /** Polls per watcher run before the watch continues in a fresh run. */
  pollsPerRun: number;
  /** Encrypts endpoint secrets at rest; the previous key still decrypts during a rotation. */
  encryptionKey?: Buffer;
  previousEncryptionKey?: Buffer;
  inngest: { mode: "dev" | "cloud"; eventKeySet: boolean; signingKeySet: boolean; baseUrl?: string };
}

/** Thrown when the environment is wrong; the message names the variable and never its value. */
export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable} ${message}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

/**
 * Every malformed setting, one line each (`VARIABLE why`), where {@link readConfig} stops at the
 * first: for the start-up report (lib/ops/config-report.ts). Empty when the configuration is valid.
 */
export function configProblems(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const seen = new Set<string>();
    return parsed.error.issues.flatMap((issue) => {
      const variable = String(issue.path[0] ?? "environment");
      if (seen.has(variable)) return [];
      seen.add(variable);
      return [`${variable} ${issue.message}`];
    });
  }
  try {
    readConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [error.message];
    throw error;
  }
}

const CONFIG_VARIABLES = Object.keys(configSchema.shape) as (keyof RawConfig)[];
let cached: { fingerprint: string; config: Config } | undefined;

/**
 * The configuration from `env` (default: the process environment). Reading the environment is
 * cheap and parsing it is not, and routes read it several times per request: the process
 * environment's parse is kept while its variables keep their values (compared on every call, so a
 * changed variable is seen at once).
 */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  if (env !== process.env) return parseConfig(env);
  let fingerprint = "";
  for (const name of CONFIG_VARIABLES) fingerprint += `${env[name] ?? "\u0001"}\u0000`;
  if (cached?.fingerprint === fingerprint) return cached.config;
  const config = parseConfig(env);
  cached = { fingerprint, config };
  return config;
}

function parseConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? "environment"), issue.message);
  }
  const raw = parsed.data;
  const onVercel = (raw.VERCEL !== undefined && raw.VERCEL !== "0") || raw.VERCEL_ENV !== undefined;

  if (onVercel && raw.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS) {
    throw new ConfigError(
      "BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS",
      "is a development flag and is refused on Vercel: unset it",
    );
  }

  // `vercel dev` (and an env file from `vercel env pull`) says VERCEL_ENV=development: a laptop, not a deployment.
  if (onVercel && raw.VERCEL_ENV !== "development" && isInngestDev(raw.INNGEST_DEV)) {
    throw new ConfigError(
      "INNGEST_DEV",
      "turns off the signature check on /api/inngest and is refused on Vercel: unset it (the Inngest integration sets INNGEST_SIGNING_KEY)",
    );
  }

  const apiKeys = (raw.BATCHWATCH_API_KEY ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
  if (onVercel && apiKeys.some((key) => key.length < MIN_API_KEY_LENGTH)) {
    throw new ConfigError(
      "BATCHWATCH_API_KEY",
      `holds a key shorter than ${MIN_API_KEY_LENGTH} characters, which is refused on Vercel: use long random keys (openssl rand -base64 32)`,
    );
  }

  return {
    database: chooseDatabase(raw, onVercel),
    onVercel,
    trustedProxy: raw.BATCHWATCH_TRUSTED_PROXY,
    apiKeys,
    sessionSecret: raw.BATCHWATCH_SESSION_SECRET,
    defaultWebhookSecret: raw.BATCH_WEBHOOK_SECRET,
    openaiWebhookSecret: raw.OPENAI_WEBHOOK_SECRET,
    geminiWebhookSecret: raw.GEMINI_WEBHOOK_SECRET,
    allowPrivateWebhooks: raw.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS,
    simulatedProvider: raw.BATCHWATCH_SIMULATED_PROVIDER,
    benchRoutes: raw.BATCHWATCH_BENCH_ROUTES,
    retentionDays: raw.BATCHWATCH_RETENTION_DAYS,
    deliveryTimeoutMs: raw.BATCHWATCH_DELIVERY_TIMEOUT_MS,
    deliveryRetries: raw.BATCHWATCH_DELIVERY_RETRIES,
    providerTimeoutMs: raw.BATCHWATCH_PROVIDER_TIMEOUT_MS,
    pollsPerRun: raw.BATCHWATCH_POLLS_PER_RUN,
    encryptionKey: raw.BATCHWATCH_ENCRYPTION_KEY,
    previousEncryptionKey: raw.BATCHWATCH_ENCRYPTION_KEY_PREVIOUS,
    inngest: {
      mode: isInngestDev(raw.INNGEST_DEV) ? "dev" : "cloud",
      eventKeySet: raw.INNGEST_EVENT_KEY !== undefined,
      signingKeySet: raw.INNGEST_SIGNING_KEY !== undefined,
      baseUrl: raw.INNGEST_BASE_URL,
    },
  };
}

function isInngestDev(value: string | undefined): boolean {
  // Inngest v4 treats INNGEST_DEV=1 or a dev-server URL as dev mode; anything else is cloud.
  return value !== undefined && value !== "0" && value !== "false";
}

function chooseDatabase(raw: RawConfig, onVercel: boolean): Config["database"] {
  const url = raw.DATABASE_URL;
  if (!url) {
    if (onVercel) {
      throw new ConfigError(
        "DATABASE_URL",
        "is required on Vercel (the disk is read-only): connect a Neon database and set DATABASE_URL",
      );
    }
    if (raw.DATABASE_DRIVER && raw.DATABASE_DRIVER !== "pglite") {
      throw new ConfigError("DATABASE_DRIVER", `is "${raw.DATABASE_DRIVER}" but DATABASE_URL is not set`);
    }
    return { driver: "pglite", dataDir: raw.BATCHWATCH_DATA_DIR ?? ".data/pglite" };
  }
  if (raw.DATABASE_DRIVER === "pglite") {
    throw new ConfigError("DATABASE_DRIVER", "is pglite but DATABASE_URL is set: unset one of them");
  }
  const driver = raw.DATABASE_DRIVER ?? (isNeonHost(url) ? "neon" : "pg");
  return { driver, url };
}

function isNeonHost(url: string): boolean {
  try {
    return new URL(url).hostname.endsWith(".neon.tech");
  } catch {
    return false;
  }
}

/**
 * Says loudly, once per process, which development-only switches are on: a deployment must not
 * run with them by accident.
 */
export function warnAboutDevelopmentFlags(config: Config = readConfig()): string[] {
  const warnings: string[] = [];
  if (config.inngest.mode === "dev") {
    warnings.push(
      "INNGEST_DEV is on: Inngest dev mode, /api/inngest does not check request signatures and anyone who can reach it can run batchwatch's functions. Development only.",
    );
  }
  if (config.allowPrivateWebhooks) {
    warnings.push(
      "BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1: deliveries may go to http:// and private or loopback addresses. Development only.",
    );
  }
  if (config.simulatedProvider) {
    warnings.push("BATCHWATCH_SIMULATED_PROVIDER=1: the simulated provider can be tracked. Development only.");
  }
  if (config.benchRoutes) {
    warnings.push("BATCHWATCH_BENCH_ROUTES=1: POST /api/bench/constant answers (for `npm run bench`). Development only.");
  }
  for (const warning of warnings) console.warn(`[batchwatch] WARNING ${warning}`);
  return warnings;
}
