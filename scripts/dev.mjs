// `npm run dev`: the Next.js dev server plus the Inngest dev server, which runs the functions.
// The Inngest dev server comes from npx (never from package.json: its install downloads a binary).
// When it can't be fetched (offline), say so once and keep Next running.
import { spawn } from "node:child_process";

/** The Inngest dev server `npm run dev` starts: pinned, so every checkout runs the same engine. */
const INNGEST_CLI_PACKAGE = "inngest-cli@1.45.1";

const port = process.env.PORT ?? "3000";
const env = { ...process.env, INNGEST_DEV: process.env.INNGEST_DEV ?? "1" };

const next = spawn("npx", ["next", "dev", "--port", port], { stdio: "inherit", env });

const inngest = spawn(
  "npx",
  ["--yes", INNGEST_CLI_PACKAGE, "dev", "--no-discovery", "-u", `http://localhost:${port}/api/inngest`],
  { stdio: ["ignore", "inherit", "pipe"], env },
);
let inngestErrors = "";
inngest.stderr.on("data", (chunk) => {
  inngestErrors += chunk;
  process.stderr.write(chunk);
});
inngest.on("exit", (code) => {
  if (code === 0 || next.exitCode !== null) return;
  console.error(
    `\n[batchwatch] The Inngest dev server could not start (exit ${code}${/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|network/i.test(inngestErrors) ? ", no network" : ""}). ` +
      "Next keeps running, but batches are not watched and tracking answers 503 inngest_unavailable. " +
      `Fix: get network access once so \`npx --yes ${INNGEST_CLI_PACKAGE} dev\` can download, or point INNGEST_BASE_URL at a running Inngest server.\n`,
  );
});

const stop = () => {
  next.kill("SIGTERM");
  inngest.kill("SIGTERM");
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
next.on("exit", (code) => {
  inngest.kill("SIGTERM");
  process.exit(code ?? 0);
});
