import { z } from "zod";

/**
 * All configuration, read from the environment and validated in one place. It is parsed on every
 * call (cheap) so that tests and long-lived processes see changes; a wrong value throws a
 * {@link ConfigError} that names the variable.
 */
const flag = z
  .enum(["0", "1", "true", "false", ""])
  .optional()
  .transform((value) => value === "1" || value === "true");

const positiveInt = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed <= 0) {
        ctx.addIssue({ code: "custom", message: `must be a positive whole number, got "${value}"` });
        return z.NEVER;
      }
      return parsed;
    });

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const configSchema = z.object({
  DATABASE_URL: optionalString.pipe(
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL").optional(),
  ),
  DATABASE_DRIVER: optionalString.pipe(z.enum(["neon", "pg", "pglite"]).optional()),
  BATCHWATCH_DATA_DIR: optionalString,
  VERCEL: optionalString,
  BATCHWATCH_API_KEY: optionalString,
  BATCHWATCH_SESSION_SECRET: optionalString.pipe(
    z.string().min(32, "must be at least 32 characters").optional(),
  ),
  BATCH_WEBHOOK_SECRET: optionalString.pipe(
    z.string().startsWith("whsec_", 'must start with "whsec_"').optional(),
  ),
  OPENAI_WEBHOOK_SECRET: optionalString,
  GEMINI_WEBHOOK_SECRET: optionalString,
  BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: flag,
  BATCHWATCH_SIMULATED_PROVIDER: flag,
  BATCHWATCH_RETENTION_DAYS: positiveInt(30),
  BATCHWATCH_DELIVERY_TIMEOUT_MS: positiveInt(15_000),
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
  apiKeys: string[];
  sessionSecret?: string;
  defaultWebhookSecret?: string;
  openaiWebhookSecret?: string;
  geminiWebhookSecret?: string;
  allowPrivateWebhooks: boolean;
  simulatedProvider: boolean;
  retentionDays: number;
  deliveryTimeoutMs: number;
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

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(String(issue.path[0] ?? "environment"), issue.message);
  }
  const raw = parsed.data;
  const onVercel = raw.VERCEL !== undefined && raw.VERCEL !== "0";

  if (onVercel && raw.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS) {
    throw new ConfigError(
      "BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS",
      "is a development flag and is refused on Vercel: unset it",
    );
  }

  return {
    database: chooseDatabase(raw, onVercel),
    onVercel,
    apiKeys: (raw.BATCHWATCH_API_KEY ?? "")
      .split(",")
      .map((key) => key.trim())
      .filter(Boolean),
    sessionSecret: raw.BATCHWATCH_SESSION_SECRET,
    defaultWebhookSecret: raw.BATCH_WEBHOOK_SECRET,
    openaiWebhookSecret: raw.OPENAI_WEBHOOK_SECRET,
    geminiWebhookSecret: raw.GEMINI_WEBHOOK_SECRET,
    allowPrivateWebhooks: raw.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS,
    simulatedProvider: raw.BATCHWATCH_SIMULATED_PROVIDER,
    retentionDays: raw.BATCHWATCH_RETENTION_DAYS,
    deliveryTimeoutMs: raw.BATCHWATCH_DELIVERY_TIMEOUT_MS,
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
  if (config.allowPrivateWebhooks) {
    warnings.push(
      "BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1: deliveries may go to http:// and private or loopback addresses. Development only.",
    );
  }
  if (config.simulatedProvider) {
    warnings.push("BATCHWATCH_SIMULATED_PROVIDER=1: the simulated provider can be tracked. Development only.");
  }
  for (const warning of warnings) console.warn(`[batchwatch] WARNING ${warning}`);
  return warnings;
}
