/**
 * A stand-in for Inngest's event API, run as its own process by the benchmarks: `POST /e/<key>`
 * answers `{ "ids": [...], "status": 200 }` as Inngest does (see test/helpers/event-api.ts) and
 * remembers each event id it took, to tell how many distinct events arrived and how many came more
 * than once. `GET /stats` answers `{ "requests", "events", "distinct", "duplicates", "byName",
 * "refused" }`; `POST /down` and `POST /up` switch an outage on and off (while down it answers 503
 * and takes nothing, as an Inngest that is unreachable would). Prints `READY {"port"}`.
 *
 *   node --import tsx bench/lib/event-api-server.ts
 */
import { createServer } from "node:http";
import { serveAsChild } from "./child-server";

let requests = 0;
let events = 0;
let refused = 0;
let down = false;
const seen = new Set<string>();
let duplicates = 0;
const byName: Record<string, number> = {};

const json = (status: number, body: unknown) => [status, { "content-type": "application/json" }, JSON.stringify(body)] as const;

const server = createServer((request, response) => {
  const reply = ([status, headers, body]: ReturnType<typeof json>) => response.writeHead(status, headers).end(body);
  if (request.method === "GET" && request.url === "/stats") {
    return reply(json(200, { requests, events, distinct: seen.size, duplicates, byName, refused, down }));
  }
  if (request.method === "POST" && (request.url === "/down" || request.url === "/up")) {
    down = request.url === "/down";
    return reply(json(200, { down }));
  }
  if (request.method !== "POST" || !request.url?.startsWith("/e/")) {
    return reply(json(404, { error: "not found", status: 404 }));
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    if (down) {
      refused += 1;
      return reply(json(503, { error: "unavailable", status: 503 }));
    }
    let list: { id?: string; name?: string }[];
    try {
      const payload: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      list = (Array.isArray(payload) ? payload : [payload]) as typeof list;
    } catch {
      return reply(json(400, { error: "invalid JSON", status: 400 }));
    }
    requests += 1;
    const ids = list.map((event, index) => event.id ?? `standin-${events + index}`);
    events += ids.length;
    for (const [index, id] of ids.entries()) {
      if (seen.has(id)) duplicates += 1;
      else {
        seen.add(id);
        const name = list[index]?.name ?? "unnamed";
        byName[name] = (byName[name] ?? 0) + 1;
      }
    }
    reply(json(200, { ids, status: 200 }));
  });
});
serveAsChild(server);
