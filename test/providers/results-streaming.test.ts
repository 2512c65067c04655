import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { beforeEach, expect, test } from "vitest";
import { getProvider, type BatchResult } from "@/lib/providers";
import { openAIBatch } from "./fixtures/openai";
import { setEnv } from "./helpers/env";
import { useFakeProvider } from "./helpers/fake-provider";

/**
 * results() must stream: the first result reaches the caller while the provider is still sending,
 * and stopping early hangs up instead of downloading the rest.
 */

const server = useFakeProvider((url) => ({ OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${url}/v1` }));
beforeEach(() => {
  server.json("GET /v1/batches/batch_big", openAIBatch("completed", { id: "batch_big", output_file_id: "file-big", error_file_id: null }));
});

const TOTAL_LINES = 100_000;
const MALFORMED_LINE = 50_000;

function outputLine(n: number): string {
  if (n === MALFORMED_LINE) return '{"custom_id": "request-50000", "response": {"status_co';
  return JSON.stringify({
    id: `batch_req_${n}`,
    custom_id: `request-${n}`,
    response: { status_code: 200, request_id: `req_${n}`, body: { id: `chatcmpl-${n}`, object: "chat.completion" } },
    error: null,
  });
}

function linesChunk(from: number, to: number): string {
  let chunk = "";
  // The very last line has no trailing newline, as files often end.
  for (let n = from; n <= to; n += 1) chunk += n === TOTAL_LINES ? outputLine(n) : `${outputLine(n)}\n`;
  return chunk;
}

async function write(response: ServerResponse, chunk: string): Promise<void> {
  if (!response.write(chunk)) await once(response, "drain");
}

test("yields the first of 100,000 results before the server has finished sending", async () => {
  let releaseRest!: () => void;
  const restReleased = new Promise<void>((resolve) => (releaseRest = resolve));
  let finishedSending = false;
  server.route("GET /v1/files/file-big/content", async (_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" });
    await write(response, linesChunk(1, 1000));
    await restReleased;
    for (let from = 1001; from <= TOTAL_LINES; from += 5000) await write(response, linesChunk(from, Math.min(TOTAL_LINES, from + 4999)));
    finishedSending = true;
    response.end();
  });

  const iterator = getProvider("openai").results("batch_big")[Symbol.asyncIterator]();
  const first = await iterator.next();
  expect(first.value).toMatchObject({ ok: true, customId: "request-1" });
  expect(finishedSending).toBe(false);

  releaseRest();
  let count = 1;
  const failures: BatchResult[] = [];
  let last: BatchResult | undefined;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    count += 1;
    last = next.value;
    if (!next.value.ok) failures.push(next.value);
  }

  expect(finishedSending).toBe(true);
  expect(count).toBe(TOTAL_LINES);
  expect(failures).toEqual([{ ok: false, customId: null, error: { code: "malformed_line", message: expect.any(String), line: MALFORMED_LINE } }]);
  expect(last).toMatchObject({ ok: true, customId: `request-${TOTAL_LINES}` });
});

test("stopping after the first result hangs up instead of downloading the rest", async () => {
  let connectionClosed!: () => void;
  const closed = new Promise<"closed">((resolve) => (connectionClosed = () => resolve("closed")));
  server.route("GET /v1/files/file-big/content", async (_request, response) => {
    response.on("close", connectionClosed);
    response.writeHead(200, { "content-type": "application/octet-stream" });
    // Send ten lines, then hold the rest back until the client goes away.
    await write(response, linesChunk(1, 10));
  });

  for await (const result of getProvider("openai").results("batch_big")) {
    expect(result).toMatchObject({ customId: "request-1" });
    break;
  }

  const timedOut = new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), 5000).unref());
  expect(await Promise.race([closed, timedOut])).toBe("closed");
});

test("fails with timeout when the download stalls mid-file", async () => {
  // Long enough for the batch lookup on a busy machine, short enough to keep the test quick.
  setEnv({ BATCHWATCH_PROVIDER_TIMEOUT_MS: "1000" });
  server.route("GET /v1/files/file-big/content", async (_request, response) => {
    response.writeHead(200, { "content-type": "application/octet-stream" });
    await write(response, linesChunk(1, 2));
    // …and nothing more.
  });

  const received: BatchResult[] = [];
  const error = await (async () => {
    for await (const result of getProvider("openai").results("batch_big")) received.push(result);
  })().catch((caught: unknown) => caught);

  expect(received).toHaveLength(2);
  expect(error).toMatchObject({ code: "timeout", provider: "openai" });
});
