/** Runs once when a server instance starts: check the configuration, open the database, migrate. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { readConfig, warnAboutDevelopmentFlags } = await import("./lib/config");
  const { announceConfiguration } = await import("./lib/ops/config-report");
  // Every missing setting is named with what it disables; a malformed one (e.g. no DATABASE_URL on
  // Vercel) fails the start, each named on its own line.
  announceConfiguration();
  warnAboutDevelopmentFlags(readConfig());
  const { getDb } = await import("./lib/db");
  try {
    await getDb();
  } catch (error) {
    // A database that is down now may be up in a minute: the server starts anyway, every request
    // tries again (getDb does not keep a failure), and /api/health and the pages say what is wrong
    // instead of a bare "Internal Server Error".
    console.error(
      "[batchwatch] the database could not be opened at start; requests will try again:",
      error instanceof Error ? error.message : error,
    );
  }
}
