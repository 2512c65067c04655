import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { now } from "@/lib/clock";
import { replaceEnv } from "./env";

export interface FakeBatch {
  status: string;
  requestCounts?: { total: number; completed: number; failed: number };
  createdAt?: number;
  expiresAt?: number | null;
}

type ScriptedFailure = { status: number; headers?: Record<string, string> };

/**
 * A local stand-in for OpenAI's batch API (`GET /v1/batches/{id}`), answering with objects shaped
 * like the API reference. Tests script each batch's status, queue failures (429, 500, 401, 404),
 * or hold a response in flight to create races.
 */
export async function startFakeOpenAI() {
  const batches = new Map<string, FakeBatch>();
  /** Other objects (responses, fine-tuning jobs, eval runs) by request path, e.g. /v1/responses/resp_1. */
  const objects = new Map<string, unknown>();
  const failures: ScriptedFailure[] = [];
  const requests: string[] = [];
  let hold: { release: Promise<void>; reached: () => void } | null = null;

  const server: Server = createServer(async (request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const match = /^\/v1\/batches\/([^/?]+)/.exec(request.url ?? "");
    const failure = failures.shift();
    if (failure) {
      response.writeHead(failure.status, { "content-type": "application/json", ...failure.headers });
      response.end(JSON.stringify({ error: { message: `scripted ${failure.status}`, type: "test", code: null } }));
      return;
    }
    if (hold) {
      const current = hold;
      hold = null;
      current.reached();
      await current.release;
    }
    const path = (request.url ?? "").split("?")[0]!;
    if (objects.has(path)) {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(objects.get(path)));
      return;
    }
    const id = match ? decodeURIComponent(match[1]!) : "";
    const batch = batches.get(id);
    if (!batch) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: `No batch found with id '${id}'.`, type: "invalid_request_error", code: null } }));
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(batchObject(id, batch)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  const restoreEnv = replaceEnv({ OPENAI_API_KEY: "sk-test-fake", OPENAI_BASE_URL: baseUrl });

  return {
    baseUrl,
    requests,
    setBatch(id: string, batch: FakeBatch) {
      batches.set(id, batch);
    },
    /** Serves `body` at `path` (e.g. `/v1/fine_tuning/jobs/ftjob-1`). */
    setObject(path: string, body: unknown) {
      objects.set(path, body);
    },
    failNext(...scripted: ScriptedFailure[]) {
      failures.push(...scripted);
    },
    /** The next successful answer waits until `release()`; `reached` resolves when the request arrived. */
    holdNext() {
      let release!: () => void;
      let reached!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const arrived = new Promise<void>((resolve) => (reached = resolve));
      hold = { release: released, reached };
      return { release, reached: arrived };
    },
    async close() {
      restoreEnv();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function batchObject(id: string, batch: FakeBatch) {
  // Times follow batchwatch's (possibly frozen) clock, as a real provider's follow real time.
  const terminalAt = Math.floor(now() / 1000);
  const created = batch.createdAt ?? terminalAt - 60;
  return {
    id,
    object: "batch",
    endpoint: "/v1/chat/completions",
    errors: null,
    input_file_id: "file-input",
    completion_window: "24h",
    status: batch.status,
    output_file_id: batch.status === "completed" ? "file-output" : null,
    error_file_id: null,
    created_at: created,
    in_progress_at: created + 5,
    expires_at: batch.expiresAt === undefined ? created + 86_400 : batch.expiresAt,
    finalizing_at: null,
    completed_at: batch.status === "completed" ? terminalAt : null,
    failed_at: batch.status === "failed" ? terminalAt : null,
    expired_at: batch.status === "expired" ? terminalAt : null,
    cancelling_at: null,
    cancelled_at: batch.status === "cancelled" ? terminalAt : null,
    request_counts: batch.requestCounts ?? { total: 10, completed: 0, failed: 0 },
    metadata: {},
  };
}

/** A webhook request signed the way OpenAI signs them (Standard Webhooks). */
export function signedOpenAIWebhook(options: {
  secret: string;
  webhookId: string;
  type: string;
  objectId: string;
  timestampSeconds: number;
  url?: string;
}): Request {
  const body = JSON.stringify({
    object: "event",
    id: `evt_${options.webhookId}`,
    type: options.type,
    created_at: options.timestampSeconds,
    data: { id: options.objectId },
  });
  const signature = new Webhook(options.secret).sign(options.webhookId, new Date(options.timestampSeconds * 1000), body);
  return new Request(options.url ?? "http://localhost/api/webhooks/openai", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": options.webhookId,
      "webhook-timestamp": String(options.timestampSeconds),
      "webhook-signature": signature,
    },
    body,
  });
}
