/** Runs once when a server instance starts: check the configuration, open the database, migrate. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { readConfig, warnAboutDevelopmentFlags } = await import("./lib/config");
  // A wrong configuration (e.g. no DATABASE_URL on Vercel) fails the start, naming the variable.
  warnAboutDevelopmentFlags(readConfig());
  const { getDb } = await import("./lib/db");
  await getDb();
}
