/**
 * The ingest ceiling: a bare node:http server that does what the OpenAI webhook route must do at
 * the least — read the raw body, verify its Standard Webhooks signature against
 * OPENAI_WEBHOOK_SECRET with the same verifier the route uses (lib/security/standard-webhooks.ts,
 * node:crypto) — and answer 200 (401 on a bad signature). No framework, no database, no event send.
 * Any path is taken as the webhook. Prints `READY {"port"}`.
 */
import { createServer } from "node:http";
import { verifyWebhook } from "../../lib/security/standard-webhooks";
import { serveAsChild } from "./child-server";

const secret = process.env.OPENAI_WEBHOOK_SECRET;
if (!secret) throw new Error("OPENAI_WEBHOOK_SECRET is required");

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      verifyWebhook({ headers: request.headers, body, secrets: [secret] });
    } catch {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid signature"}');
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
  });
});
serveAsChild(server);
