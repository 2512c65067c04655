import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** The payload as the `standardwebhooks` library verified it, or null when verification failed. */
  verified: Record<string, unknown> | null;
}

/**
 * A local webhook receiver that verifies every request with the reference `standardwebhooks`
 * library. `respond` decides each answer (default 200), so tests can script failures.
 */
export async function startReceiver(options: {
  secret: string | (() => string);
  /** The verifier's idea of now (epoch ms), for tests that run on a fake clock. */
  now?: () => number;
  respond?: (request: ReceivedWebhook, index: number) => { status: number; headers?: Record<string, string> };
}) {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      let verified: Record<string, unknown> | null = null;
      try {
        const secret = typeof options.secret === "function" ? options.secret() : options.secret;
        verified = verifyAt(options.now?.(), () =>
          new Webhook(secret).verify(body, request.headers as Record<string, string>),
        ) as Record<string, unknown>;
      } catch {
        verified = null;
      }
      const entry = { headers: request.headers, body, verified };
      received.push(entry);
      const answer = options.respond?.(entry, received.length - 1) ?? { status: 200 };
      response.writeHead(answer.status, answer.headers);
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/batch`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The reference library reads Date.now() for its 5-minute tolerance; tests on a fake clock lend it theirs. */
function verifyAt<T>(at: number | undefined, verify: () => T): T {
  if (at === undefined) return verify();
  const realNow = Date.now;
  Date.now = () => at;
  try {
    return verify();
  } finally {
    Date.now = realNow;
  }
}
