/**
 * A stand-in for Inngest's event API, run as its own process by the benchmarks: `POST /e/<key>`
 * answers `{ "ids": [...], "status": 200 }` as Inngest does (see test/helpers/event-api.ts); it
 * keeps only a count. `GET /stats` answers `{ "requests", "events" }`. Prints `READY {"port"}`.
 *
 *   node --import tsx bench/lib/event-api-server.ts
 */
import { createServer } from "node:http";
import { serveAsChild } from "./child-server";

let requests = 0;
let events = 0;

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/stats") {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ requests, events }));
    return;
  }
  if (request.method !== "POST" || !request.url?.startsWith("/e/")) {
    response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found", status: 404 }));
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    let ids: string[];
    try {
      const payload: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const list = (Array.isArray(payload) ? payload : [payload]) as { id?: string }[];
      ids = list.map((event, index) => event.id ?? `standin-${events + index}`);
    } catch {
      response.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid JSON", status: 400 }));
      return;
    }
    requests += 1;
    events += ids.length;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ids, status: 200 }));
  });
});
serveAsChild(server);
