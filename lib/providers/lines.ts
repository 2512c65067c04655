import { providerTimeoutMs } from "./config";
import { ProviderError, toProviderError } from "./errors";
import type { BatchResult } from "./types";

/**
 * Streams result files line by line: memory stays bounded by the longest line, whatever the file
 * size, and the first result is available as soon as the first line has arrived.
 */

export interface SourceLine {
  text: string;
  /** 1-based line number within its file, counting blank lines. */
  line: number;
}

const CARRIAGE_RETURN = 13;
const BLANK = /^\s*$/;

/** A single line longer than this is not a result line; refusing it bounds memory. */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

async function readWithIdleTimeout(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleTimeoutMs: number,
  provider: string,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ProviderError("timeout", `${provider} stopped sending results for ${idleTimeoutMs} ms`, { provider })),
      idleTimeoutMs,
    );
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } catch (error) {
    throw toProviderError(error, provider);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Splits a byte stream into lines (LF or CRLF; a last line without newline counts), skipping
 * blank lines. Stopping the iteration early cancels the stream, which releases the connection.
 * The idle timeout applies only while waiting for bytes, never while the consumer is busy.
 */
export async function* readLines(
  source: ReadableStream<Uint8Array>,
  provider: string,
  idleTimeoutMs: number = providerTimeoutMs(),
): AsyncGenerator<SourceLine> {
  const reader = source.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let line = 0;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await readWithIdleTimeout(reader, idleTimeoutMs, provider);
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let newline = buffer.indexOf("\n"); newline !== -1; newline = buffer.indexOf("\n", start)) {
        line += 1;
        const end = newline > start && buffer.charCodeAt(newline - 1) === CARRIAGE_RETURN ? newline - 1 : newline;
        const text = buffer.slice(start, end);
        start = newline + 1;
        if (!BLANK.test(text)) yield { text, line };
      }
      buffer = buffer.slice(start);
      if (buffer.length > MAX_LINE_CHARS) {
        throw new ProviderError("invalid_response", `${provider} sent a line longer than ${MAX_LINE_CHARS} characters`, { provider });
      }
    }
    buffer += decoder.decode();
    const last = buffer.endsWith("\r") ? buffer.slice(0, -1) : buffer;
    if (!BLANK.test(last)) yield { text: last, line: line + 1 };
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

export function malformedLine(line: number, message: string): BatchResult {
  return { ok: false, customId: null, error: { code: "malformed_line", message, line } };
}

/**
 * Parses each line as JSON and maps it with `toResult`; a line that is not JSON, or that `toResult`
 * does not recognise (returns undefined), is reported as `malformed_line` — never dropped.
 */
export async function* jsonLinesToResults(
  lines: AsyncIterable<SourceLine>,
  toResult: (value: unknown) => BatchResult | undefined,
  describe: string,
): AsyncGenerator<BatchResult> {
  for await (const { text, line } of lines) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield malformedLine(line, `line ${line} of the ${describe} is not valid JSON`);
      continue;
    }
    yield toResult(value) ?? malformedLine(line, `line ${line} of the ${describe} is not a result object`);
  }
}

/** Streams one downloaded result file through the shared line reader and JSON mapping. */
export function streamResultFile(
  body: ReadableStream<Uint8Array>,
  provider: string,
  toResult: (value: unknown) => BatchResult | undefined,
  describe: string,
): AsyncGenerator<BatchResult> {
  return jsonLinesToResults(readLines(body, provider), toResult, describe);
}

export interface ResultFile {
  fileId: string | null | undefined;
  describe: string;
}

/**
 * Streams a batch's output file, then its error file (OpenAI, Azure, Groq, Together, Mistral):
 * each is downloaded only when the previous one has been read, and absent files are skipped.
 */
export async function* streamResultFiles(
  provider: string,
  files: readonly ResultFile[],
  download: (fileId: string) => Promise<ReadableStream<Uint8Array>>,
  toResult: (value: unknown) => BatchResult | undefined,
): AsyncGenerator<BatchResult> {
  for (const { fileId, describe } of files) {
    if (!fileId) continue;
    yield* streamResultFile(await download(fileId), provider, toResult, describe);
  }
}
