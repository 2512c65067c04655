/** Runs once when a server instance starts: open the database and apply pending migrations. */
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { getDb } = await import("./lib/db");
  await getDb();
}
