/**
 * A keep-alive webhook receiver for the delivery benchmark: checks each delivery's Standard
 * Webhooks signature with RECEIVER_SECRET (plain node:crypto, independent of the code under test),
 * counts, and answers 200 (401 when the signature is wrong). `GET /stats` answers
 * `{ "received", "verified", "rejected" }`. Prints `READY {"port"}`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { serveAsChild } from "./child-server";

const secret = process.env.RECEIVER_SECRET ?? "";
const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
let received = 0;
let verified = 0;
let rejected = 0;

function signatureMatches(id: string, timestamp: string, header: string, body: string): boolean {
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(" ").some((entry) => {
    if (!entry.startsWith("v1,")) return false;
    const given = Buffer.from(entry.slice(3), "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ received, verified, rejected }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    received += 1;
    const body = Buffer.concat(chunks).toString("utf8");
    const id = String(request.headers["webhook-id"] ?? "");
    const timestamp = String(request.headers["webhook-timestamp"] ?? "");
    const signature = String(request.headers["webhook-signature"] ?? "");
    const ok = id !== "" && timestamp !== "" && signatureMatches(id, timestamp, signature, body);
    if (ok) verified += 1;
    else rejected += 1;
    response.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(ok ? '{"ok":true}' : '{"ok":false}');
  });
});
serveAsChild(server);
