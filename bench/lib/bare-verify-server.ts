/**
 * The ingest ceiling: a bare node:http server that does what the OpenAI webhook route must do at
 * the least — read the raw body, verify it with openai's `webhooks.verifySignature` against
 * OPENAI_WEBHOOK_SECRET — and answer 200 (401 on a bad signature). No framework, no database, no
 * event send. Prints `READY {"port"}`.
 */
import { createServer } from "node:http";
import OpenAI from "openai";
import { serveAsChild } from "./child-server";

const secret = process.env.OPENAI_WEBHOOK_SECRET;
if (!secret) throw new Error("OPENAI_WEBHOOK_SECRET is required");
const verifier = new OpenAI({ apiKey: "not-used-for-verification", maxRetries: 0 });

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", async () => {
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      await verifier.webhooks.verifySignature(body, request.headers as Record<string, string>, secret);
    } catch {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid signature"}');
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
  });
});
serveAsChild(server);
