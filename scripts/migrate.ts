// `npm run db:migrate`: applies pending migrations to the configured database and exits.
import { readConfig } from "@/lib/config";
import { openDatabase } from "@/lib/db";
import { migrate } from "@/lib/db/migrations";

async function main() {
  const config = readConfig();
  const db = await openDatabase(config.database);
  try {
    const { applied, version } = await migrate(db);
    console.log(
      applied.length > 0
        ? `[batchwatch] ${db.driver}: applied migrations ${applied.join(", ")}; now at version ${version}`
        : `[batchwatch] ${db.driver}: up to date at version ${version}`,
    );
  } finally {
    await db.close();
  }
}

main().catch((error) => {
  console.error(`[batchwatch] migration failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
