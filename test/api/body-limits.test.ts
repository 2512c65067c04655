import { NextRequest } from "next/server";
import { unstable_doesMiddlewareMatch } from "next/experimental/testing/server";
import { describe, expect, test } from "vitest";
import * as exampleReceiver from "@/app/api/examples/receiver/route";
import * as gemini from "@/app/api/webhooks/gemini/route";
import * as openai from "@/app/api/webhooks/openai/route";
import nextConfig from "@/next.config";
import { config as proxyConfig, proxy } from "@/proxy";
import { withEnv } from "../helpers/env";
import { useApiHarness } from "../helpers/api";

useApiHarness();

const MB = 1024 * 1024;

/** A body of `total` bytes in 16 KB chunks, counting how much of it was ever pulled. */
function meteredBody(total: number) {
  const meter = { pulled: 0 };
  const chunk = new Uint8Array(16 * 1024).fill(0x61);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (meter.pulled >= total) return controller.close();
      meter.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, meter };
}

type Handler = (request: Request, context: unknown) => Promise<Response>;

async function post(handler: unknown, path: string, total: number, declare: boolean) {
  const { stream, meter } = meteredBody(total);
  const headers: Record<string, string> = { "content-type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA" };
  if (declare) headers["content-length"] = String(total);
  const request = new Request(`http://batchwatch.test${path}`, { method: "POST", headers, body: stream, duplex: "half" } as RequestInit);
  const response = await (handler as Handler)(request, { params: Promise.resolve({}) });
  return { status: response.status, json: await response.json(), pulled: meter.pulled };
}

const PUBLIC_ROUTES = [
  ["POST /api/webhooks/openai", openai.POST, "/api/webhooks/openai"],
  ["POST /api/webhooks/gemini", gemini.POST, "/api/webhooks/gemini"],
  ["POST /api/examples/receiver", exampleReceiver.POST, "/api/examples/receiver"],
] as const;

describe("public routes refuse an oversized body without holding it", () => {
  const secrets = { OPENAI_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", GEMINI_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };

  test.each(PUBLIC_ROUTES)("%s: a declared 10 MB body is 413 before a byte is read", async (_name, handler, path) => {
    const result = await withEnv(secrets, () => post(handler, path, 10 * MB, true));
    expect(result.status).toBe(413);
    expect(result.json.error.code).toBe("payload_too_large");
    // A stream pre-fills a little; it is never read on.
    expect(result.pulled).toBeLessThanOrEqual(64 * 1024);
  });

  test.each(PUBLIC_ROUTES)("%s: an undeclared 10 MB body is 413 once past the limit, read no further", async (_name, handler, path) => {
    const result = await withEnv(secrets, () => post(handler, path, 10 * MB, false));
    expect(result.status).toBe(413);
    expect(result.pulled).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
  });
});

describe("the example receiver", () => {
  test("is a 404 unless the development flag BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS is on", async () => {
    const result = await withEnv({ BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS: undefined }, () => post(exampleReceiver.POST, "/api/examples/receiver", 10, true));
    expect(result.status).toBe(404);
    expect(result.json.error.code).toBe("not_found");
    expect(result.pulled).toBeLessThanOrEqual(16 * 1024);
  });
});

describe("the proxy", () => {
  test("refuses a private route's declared oversized body before authenticating or buffering it", async () => {
    const response = await proxy(
      new NextRequest("http://batchwatch.test/api/batches", { method: "POST", headers: { "content-length": String(10 * MB) } }),
    );
    expect(response.status).toBe(413);
    expect((await response.json()).error.code).toBe("payload_too_large");
  });

  test("buffers at most 64 KB (and one byte) of a body, not Next's default 10 MB", () => {
    expect(nextConfig.experimental?.proxyClientMaxBodySize).toBe(64 * 1024 + 1);
  });

  test("is skipped by the example receiver, like the webhooks", () => {
    expect(unstable_doesMiddlewareMatch({ config: proxyConfig, url: "/api/examples/receiver" })).toBe(false);
  });
});
