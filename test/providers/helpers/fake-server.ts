import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local stand-in for a provider's HTTP API (node:http on port 0). Tests register routes by
 * `METHOD /path` (query string ignored) and inspect the requests the real SDKs sent.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
}

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => void | Promise<void>;

export interface FakeServer {
  /** Base URL, e.g. http://127.0.0.1:51234 (no trailing slash). */
  url: string;
  requests: RecordedRequest[];
  route(methodAndPath: string, handler: RouteHandler): void;
  /** Answer `methodAndPath` with JSON. */
  json(methodAndPath: string, body: unknown, status?: number, headers?: Record<string, string>): void;
  reset(): void;
  close(): Promise<void>;
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  response.end(text);
}

export async function startFakeServer(): Promise<FakeServer> {
  const routes = new Map<string, RouteHandler>();
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://fake.local");
    requests.push({ method: request.method ?? "GET", path: url.pathname, query: url.searchParams, headers: request.headers });
    const handler = routes.get(`${request.method} ${url.pathname}`);
    if (!handler) {
      sendJson(response, 404, { error: { message: `no fake route for ${request.method} ${url.pathname}`, type: "not_found" } });
      return;
    }
    Promise.resolve(handler(request, response, url)).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: { message: String(error) } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route: (methodAndPath, handler) => void routes.set(methodAndPath, handler),
    json: (methodAndPath, body, status = 200, headers = {}) =>
      void routes.set(methodAndPath, (_request, response) => sendJson(response, status, body, headers)),
    reset() {
      routes.clear();
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serves `lines` as a JSONL download, each line followed by "\n". */
export function jsonlRoute(lines: readonly string[]): RouteHandler {
  return (_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" });
    response.end(lines.map((line) => `${line}\n`).join(""));
  };
}
