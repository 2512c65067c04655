// Every test starts from a known environment: no real credentials, simulated provider allowed,
// local receivers allowed, Inngest in dev mode (its event API is replaced per test by a stand-in).
process.env.INNGEST_DEV ??= "1";
process.env.BATCHWATCH_SIMULATED_PROVIDER ??= "1";
process.env.BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS ??= "1";
process.env.BATCH_WEBHOOK_SECRET ??= "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
process.env.BATCHWATCH_API_KEY ??= "test-api-key";
process.env.BATCHWATCH_ENCRYPTION_KEY ??= Buffer.alloc(32, 7).toString("base64");
process.env.BATCHWATCH_SESSION_SECRET ??= "test-session-secret-at-least-32-chars!!";

// Real-Postgres tests (node-postgres and Neon's driver) run only with TEST_DATABASE_URL; in CI
// they must never be skipped silently.
if (process.env.CI && !process.env.TEST_DATABASE_URL) {
  throw new Error("CI must set TEST_DATABASE_URL (see .ci/run): the real-Postgres store tests would be skipped");
}
