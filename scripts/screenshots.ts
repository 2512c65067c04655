// The README's dashboard screenshots (docs/screenshots/*.png), at 1280 px and 390 px, on seeded
// data (fixtures/dashboard/seed.ts): `npx next build`, then
//   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx --conditions=react-server scripts/screenshots.ts
// It creates a throwaway database next to TEST_DATABASE_URL's, serves the production build on a
// free port, drives Chromium (/usr/bin/chromium or CHROMIUM_PATH), and drops the database after.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { chromium, type Page } from "playwright-core";
import { SEED, seedConsole } from "@/fixtures/dashboard/seed";
import { openDatabase } from "@/lib/db";
import { migrate } from "@/lib/db/migrations";
import { freePort } from "@/test/helpers/ports";

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "docs", "screenshots");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const API_KEY = "screenshots-key";
const ENCRYPTION_KEY = process.env.BATCHWATCH_ENCRYPTION_KEY ?? Buffer.alloc(32, 7).toString("base64");

async function main() {
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("set TEST_DATABASE_URL (a Postgres where a throwaway database may be created)");
  if (!existsSync(path.join(ROOT, ".next", "BUILD_ID"))) throw new Error("run `npx next build` first");
  process.env.BATCHWATCH_ENCRYPTION_KEY = ENCRYPTION_KEY;

  const name = `bw_shots_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let server: ChildProcess | undefined;
  try {
    const db = await openDatabase({ driver: "pg", url: url.toString() });
    await migrate(db);
    await seedConsole(db, Date.now(), "https://hooks.example.com/batchwatch");
    await db.close();

    const port = await freePort();
    server = spawn(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "--port", String(port), "--hostname", "127.0.0.1"], {
      cwd: ROOT,
      stdio: "ignore",
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        DATABASE_URL: url.toString(),
        DATABASE_DRIVER: "pg",
        INNGEST_DEV: "1",
        INNGEST_BASE_URL: "http://127.0.0.1:9",
        BATCHWATCH_API_KEY: API_KEY,
        BATCHWATCH_SESSION_SECRET: randomBytes(24).toString("hex"),
        BATCHWATCH_SIMULATED_PROVIDER: "1",
        BATCHWATCH_ENCRYPTION_KEY: ENCRYPTION_KEY,
        NEXT_TELEMETRY_DISABLED: "1",
      },
    });
    const base = `http://127.0.0.1:${port}`;
    for (let tries = 0; ; tries++) {
      try {
        if ((await fetch(`${base}/api/health`)).ok) break;
      } catch {
        // Not listening yet.
      }
      if (tries > 180) throw new Error("next start did not become healthy");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: "UTC" });
    const page = await context.newPage();
    await page.goto(`${base}/sign-in`);
    await page.getByLabel("API key").fill(API_KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((where) => where.pathname === "/batches");

    const [endpoint] = await (async () => {
      const check = await openDatabase({ driver: "pg", url: url.toString() });
      try {
        return await check.query<{ id: string }>("SELECT id FROM endpoints WHERE name = $1", [SEED.disabledEndpoint]);
      } finally {
        await check.close();
      }
    })();
    const shots: [string, string, ((page: Page) => Promise<void>)?][] = [
      ["batches", "/batches"],
      ["batch", `/batches/simulated/${SEED.gaveUpBatch}`],
      ["deliveries", "/deliveries?window=7d"],
      ["endpoint", `/endpoints/${endpoint!.id}`],
    ];
    mkdirSync(OUT, { recursive: true });
    for (const [shot, where, prepare] of shots) {
      for (const [suffix, width, height] of [["", 1280, 900], ["-phone", 390, 844]] as const) {
        await page.setViewportSize({ width, height });
        await page.goto(`${base}${where}`);
        await page.locator("main h1").first().waitFor();
        await prepare?.(page);
        await page.screenshot({ path: path.join(OUT, `${shot}${suffix}.png`), fullPage: true });
        console.log(`docs/screenshots/${shot}${suffix}.png`);
      }
    }
    await browser.close();
  } finally {
    server?.kill("SIGTERM");
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
