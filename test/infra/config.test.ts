import { describe, expect, test, vi } from "vitest";
import { ConfigError, readConfig, warnAboutDevelopmentFlags } from "@/lib/config";
import { withEnv } from "../helpers/env";
import { announceConfiguration, configReport } from "@/lib/ops/config-report";

const base = { NODE_ENV: "test" } as NodeJS.ProcessEnv;

describe("database driver choice", () => {
  test.each([
    ["no DATABASE_URL", {}, { driver: "pglite", dataDir: ".data/pglite" }],
    ["a custom PGlite folder", { BATCHWATCH_DATA_DIR: "/tmp/bw" }, { driver: "pglite", dataDir: "/tmp/bw" }],
    [
      "a Neon host",
      { DATABASE_URL: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db?sslmode=require" },
      { driver: "neon", url: "postgresql://u:p@ep-cool-1.eu-central-1.aws.neon.tech/db?sslmode=require" },
    ],
    [
      "a self-hosted Postgres",
      { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" },
      { driver: "pg", url: "postgres://postgres@127.0.0.1:5432/test" },
    ],
    [
      "DATABASE_DRIVER=neon forcing Neon's driver on any host",
      { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test", DATABASE_DRIVER: "neon" },
      { driver: "neon", url: "postgres://postgres@127.0.0.1:5432/test" },
    ],
  ])("%s", (_, env, expected) => {
    expect(readConfig({ ...base, ...env }).database).toEqual(expected);
  });
});

describe("start-up errors name the variable", () => {
  test.each([
    ["Vercel without DATABASE_URL", { VERCEL: "1" }, "DATABASE_URL", /required on Vercel/],
    ["a DATABASE_URL that is not Postgres", { DATABASE_URL: "mysql://x" }, "DATABASE_URL", /postgres/],
    ["an unknown driver", { DATABASE_DRIVER: "sqlite" }, "DATABASE_DRIVER", /./],
    ["a driver without a URL", { DATABASE_DRIVER: "pg" }, "DATABASE_DRIVER", /DATABASE_URL is not set/],
    ["the private-webhook flag on Vercel", { VERCEL: "1", DATABASE_URL: "postgres://h/db", BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "1" }, "BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS", /refused on Vercel/],
    ["Inngest dev mode on Vercel (VERCEL=1)", { VERCEL: "1", DATABASE_URL: "postgres://h/db", INNGEST_DEV: "1" }, "INNGEST_DEV", /signature check .* refused on Vercel/],
    ["Inngest dev mode on a Vercel preview (VERCEL_ENV)", { VERCEL_ENV: "preview", DATABASE_URL: "postgres://h/db", INNGEST_DEV: "http://localhost:8288" }, "INNGEST_DEV", /refused on Vercel/],
    ["Inngest dev mode in Vercel production", { VERCEL: "1", VERCEL_ENV: "production", DATABASE_URL: "postgres://h/db", INNGEST_DEV: "true" }, "INNGEST_DEV", /refused on Vercel/],
    ["a retention that is not a number", { BATCHWATCH_RETENTION_DAYS: "soon" }, "BATCHWATCH_RETENTION_DAYS", /whole number/],
    ["a default webhook secret without whsec_", { BATCH_WEBHOOK_SECRET: "abc" }, "BATCH_WEBHOOK_SECRET", /whsec_/],
    ["a short session secret", { BATCHWATCH_SESSION_SECRET: "short" }, "BATCHWATCH_SESSION_SECRET", /32/],
    ["polls per run that are not a number", { BATCHWATCH_POLLS_PER_RUN: "lots" }, "BATCHWATCH_POLLS_PER_RUN", /whole number/],
    ["polls per run past Inngest's step limit", { BATCHWATCH_POLLS_PER_RUN: "451" }, "BATCHWATCH_POLLS_PER_RUN", /at most 450/],
    ["a provider timeout of zero", { BATCHWATCH_PROVIDER_TIMEOUT_MS: "0" }, "BATCHWATCH_PROVIDER_TIMEOUT_MS", /positive/],
    ["more delivery retries than Inngest allows", { BATCHWATCH_DELIVERY_RETRIES: "21" }, "BATCHWATCH_DELIVERY_RETRIES", /at most 20/],
    ["a delivery timeout that is not whole", { BATCHWATCH_DELIVERY_TIMEOUT_MS: "1.5" }, "BATCHWATCH_DELIVERY_TIMEOUT_MS", /whole number/],
    ["an encryption key of 16 bytes", { BATCHWATCH_ENCRYPTION_KEY: Buffer.alloc(16, 1).toString("base64") }, "BATCHWATCH_ENCRYPTION_KEY", /32 random bytes/],
    ["an API key under 24 characters on Vercel", { VERCEL: "1", DATABASE_URL: "postgres://h/db", BATCHWATCH_API_KEY: "a-key-that-is-long-enough-for-vercel-0123,short-key" }, "BATCHWATCH_API_KEY", /shorter than 24 characters.*refused on Vercel/],
    ["a Gemini webhook secret that is not base64", { GEMINI_WEBHOOK_SECRET: "whsec_not base64!" }, "GEMINI_WEBHOOK_SECRET", /whsec_.*base64/],
    ["a Gemini webhook secret that is empty after its prefix", { GEMINI_WEBHOOK_SECRET: "whsec_" }, "GEMINI_WEBHOOK_SECRET", /base64/],
    ["a previous encryption key that is not base64", { BATCHWATCH_ENCRYPTION_KEY_PREVIOUS: "not base64!" }, "BATCHWATCH_ENCRYPTION_KEY_PREVIOUS", /32 random bytes/],
  ])("%s", (_, env, variable, message) => {
    let thrown: unknown;
    try {
      readConfig({ ...base, ...env });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe(variable);
    expect((thrown as ConfigError).message).toMatch(message);
  });

  test.each([
    ["BATCH_WEBHOOK_SECRET", "super-secret-value"],
    ["BATCHWATCH_RETENTION_DAYS", "secret-looking-days"],
    ["BATCHWATCH_ENCRYPTION_KEY", "c2hvcnQtYnV0LXNlY3JldA=="],
  ])("an error about %s never contains the value it refused", (variable, value) => {
    expect(() => readConfig({ ...base, [variable]: value })).toThrow(
      expect.objectContaining({ variable, message: expect.not.stringContaining(value) }),
    );
  });
});

describe("other settings", () => {
  test("API keys are comma-separated so an old and a new key work during rotation", () => {
    expect(readConfig({ ...base, BATCHWATCH_API_KEY: " old-key , new-key ," }).apiKeys).toEqual(["old-key", "new-key"]);
  });

  test.each([
    [{ INNGEST_DEV: "1" }, "dev"],
    [{ INNGEST_DEV: "http://localhost:8288" }, "dev"],
    [{ INNGEST_DEV: "0" }, "cloud"],
    [{}, "cloud"],
  ])("Inngest mode for %o is %s", (env, mode) => {
    expect(readConfig({ ...base, ...env }).inngest.mode).toBe(mode);
  });

  test.each([
    ["`vercel dev` (VERCEL_ENV=development)", { VERCEL: "1", VERCEL_ENV: "development", DATABASE_URL: "postgres://h/db", INNGEST_DEV: "1" }, "dev"],
    ["Vercel with dev mode off", { VERCEL: "1", DATABASE_URL: "postgres://h/db", INNGEST_DEV: "0" }, "cloud"],
  ])("%s starts, in Inngest mode %s", (_, env, mode) => {
    expect(readConfig({ ...base, ...env }).inngest.mode).toBe(mode);
  });

  test("the private-webhook flag is off unless set to 1", () => {
    expect(readConfig(base).allowPrivateWebhooks).toBe(false);
    expect(readConfig({ ...base, BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "1" }).allowPrivateWebhooks).toBe(true);
  });
});

describe("development flags", () => {
  test("the private-webhook and simulated-provider flags are announced loudly at start-up", () => {
    const warnings = warnAboutDevelopmentFlags(
      readConfig({ ...base, BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: "1", BATCHWATCH_SIMULATED_PROVIDER: "1" }),
    );
    expect(warnings).toEqual([
      expect.stringContaining("BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1"),
      expect.stringContaining("BATCHWATCH_SIMULATED_PROVIDER=1"),
    ]);
  });

  test.each([{ INNGEST_DEV: "1" }, { INNGEST_DEV: "http://localhost:8288" }])("Inngest dev mode (%o) is announced loudly at start-up: unsigned calls are accepted", (env) => {
    expect(warnAboutDevelopmentFlags(readConfig({ ...base, ...env }))).toEqual([expect.stringMatching(/^INNGEST_DEV is on: .*signatures/)]);
  });

  test("a production configuration announces nothing", () => {
    expect(warnAboutDevelopmentFlags(readConfig(base))).toEqual([]);
  });
});

describe("the process environment", () => {
  test("is parsed again as soon as a variable changes, and an invalid value is refused every time", async () => {
    await withEnv({ BATCHWATCH_API_KEY: "first", BATCHWATCH_RETENTION_DAYS: undefined }, async () => {
      expect(readConfig().apiKeys).toEqual(["first"]);
      expect(readConfig()).toBe(readConfig());
      process.env.BATCHWATCH_API_KEY = "second";
      expect(readConfig().apiKeys).toEqual(["second"]);
      process.env.BATCHWATCH_RETENTION_DAYS = "soon";
      expect(() => readConfig()).toThrow(ConfigError);
      expect(() => readConfig()).toThrow(ConfigError);
      delete process.env.BATCHWATCH_RETENTION_DAYS;
      expect(readConfig().retentionDays).toBe(30);
    });
  });
});

describe("the start-up report", () => {
  const complete = {
    ...base,
    BATCHWATCH_API_KEY: "a-key-that-is-long-enough-for-vercel-0123",
    BATCHWATCH_SESSION_SECRET: "s".repeat(32),
    BATCH_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    BATCHWATCH_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
    OPENAI_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    GEMINI_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    INNGEST_DEV: "1",
  } as NodeJS.ProcessEnv;
  const ownLines = (lines: string[]) => lines.filter((line) => !/ is not configured: set /.test(line)); // provider credentials aside

  test("names every malformed setting at once, one line each, never its value", () => {
    const report = configReport({
      ...complete,
      BATCHWATCH_RETENTION_DAYS: "soon",
      BATCH_WEBHOOK_SECRET: "plain-secret-value",
      GEMINI_WEBHOOK_SECRET: "whsec_***",
      BATCHWATCH_SESSION_SECRET: "short",
    });
    expect(report.invalid.map((line) => line.split(" ")[0]).sort()).toEqual(
      ["BATCHWATCH_RETENTION_DAYS", "BATCHWATCH_SESSION_SECRET", "BATCH_WEBHOOK_SECRET", "GEMINI_WEBHOOK_SECRET"].sort(),
    );
    expect(report.invalid.join("\n")).not.toMatch(/plain-secret-value|\*\*\*|soon|short/);
  });

  test.each([
    ["BATCHWATCH_API_KEY", /API and the dashboard refuse every request/],
    ["BATCHWATCH_SESSION_SECRET", /nobody can sign in/],
    ["BATCH_WEBHOOK_SECRET", /tracking to a webhookUrl is refused/],
    ["BATCHWATCH_ENCRYPTION_KEY", /named endpoints cannot be created/],
    ["OPENAI_WEBHOOK_SECRET", /OpenAI webhooks are refused/],
    ["GEMINI_WEBHOOK_SECRET", /Gemini webhooks are refused/],
  ])("a missing %s is one line saying what it disables", (variable, disables) => {
    const report = configReport({ ...complete, [variable]: undefined });
    expect(report.invalid).toEqual([]);
    expect(ownLines(report.missing)).toEqual([expect.stringMatching(new RegExp(`^${variable} is not set: `))]);
    expect(ownLines(report.missing)[0]).toMatch(disables);
  });

  test("in Inngest cloud mode, missing Inngest keys are named", () => {
    const lines = ownLines(configReport({ ...complete, INNGEST_DEV: undefined }).missing);
    expect(lines.map((line) => line.split(" ")[0])).toEqual(expect.arrayContaining(["INNGEST_EVENT_KEY", "INNGEST_SIGNING_KEY"]));
  });

  test("an API key under 24 characters is warned about off Vercel, never shown", () => {
    const lines = configReport({ ...complete, BATCHWATCH_API_KEY: "dev-key" }).missing;
    expect(lines).toContainEqual(expect.stringMatching(/^BATCHWATCH_API_KEY holds a key shorter than 24 characters/));
    expect(lines.join("\n")).not.toContain("dev-key");
  });

  test("a complete configuration reports nothing of its own", () => {
    expect(ownLines(configReport(complete).missing)).toEqual([]);
  });

  test("start-up prints each line and refuses to start on a malformed setting", () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect(() => announceConfiguration({ ...complete, GEMINI_WEBHOOK_SECRET: "whsec_%%%", BATCHWATCH_RETENTION_DAYS: "x" })).toThrow(
        /GEMINI_WEBHOOK_SECRET.*BATCHWATCH_RETENTION_DAYS|BATCHWATCH_RETENTION_DAYS.*GEMINI_WEBHOOK_SECRET/,
      );
      expect(error).toHaveBeenCalledTimes(2);
      announceConfiguration({ ...complete, BATCHWATCH_ENCRYPTION_KEY: undefined });
      expect(warn.mock.calls.map(([line]) => String(line))).toContainEqual(expect.stringMatching(/^\[batchwatch\] CONFIG NOT SET BATCHWATCH_ENCRYPTION_KEY is not set: /));
    } finally {
      error.mockRestore();
      warn.mockRestore();
    }
  });
});
