import { expect, test } from "vitest";
import { ProviderError } from "@/lib/providers";
import { jsonLinesToResults, readLines } from "@/lib/providers/lines";
import { collect } from "./helpers/collect";

/** The shared line splitter every results() stream goes through. */

function streamOf(chunks: (string | Uint8Array)[], onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[index++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    },
    cancel: onCancel,
  });
}

test("splits LF and CRLF lines, keeps a last line without newline, skips blank lines but counts them", async () => {
  const lines = await collect(readLines(streamOf(["first\r\nsec", "ond\n\n  \nthird"]), "test"));
  expect(lines).toEqual([
    { text: "first", line: 1 },
    { text: "second", line: 2 },
    { text: "third", line: 5 },
  ]);
});

test("decodes a multi-byte character split across chunks", async () => {
  const bytes = new TextEncoder().encode('{"text":"héllo 🌍"}\n');
  const cut = bytes.indexOf(0xf0) + 2; // inside the 4-byte emoji
  const lines = await collect(readLines(streamOf([bytes.slice(0, cut), bytes.slice(cut)]), "test"));
  expect(lines).toEqual([{ text: '{"text":"héllo 🌍"}', line: 1 }]);
});

test("fails with timeout when the stream stalls longer than the idle timeout", async () => {
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("one\n"));
    },
  });
  const iterator = readLines(stalled, "test", 50);
  expect(await iterator.next()).toEqual({ done: false, value: { text: "one", line: 1 } });
  const error = await iterator.next().catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ProviderError);
  expect(error).toMatchObject({ code: "timeout" });
});

test("cancels the source when the consumer stops early", async () => {
  let cancelled = false;
  const source = streamOf(["a\nb\nc\n", "d\n"], () => {
    cancelled = true;
  });
  for await (const line of readLines(source, "test")) {
    expect(line.text).toBe("a");
    break;
  }
  expect(cancelled).toBe(true);
});

test("reports lines that are not JSON, or not results, as malformed without dropping them", async () => {
  const lines = readLines(streamOf(['{"ok":1}\n', "nope\n", '{"other":2}\n']), "test");
  const results = await collect(
    jsonLinesToResults(lines, (value) => ((value as { ok?: number }).ok ? { ok: true, customId: null, body: value } : undefined), "test file"),
  );
  expect(results).toEqual([
    { ok: true, customId: null, body: { ok: 1 } },
    { ok: false, customId: null, error: { code: "malformed_line", message: "line 2 of the test file is not valid JSON", line: 2 } },
    { ok: false, customId: null, error: { code: "malformed_line", message: "line 3 of the test file is not a result object", line: 3 } },
  ]);
});
