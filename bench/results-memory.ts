/**
 * Results: peak memory of streaming a large results file through `getProvider("openai").results(id)`.
 * A fake OpenAI server (in this process) serves `GET /v1/batches/{id}` (completed, with an
 * output_file_id) and `GET /v1/files/{id}/content` — `lines` JSONL result lines streamed with
 * backpressure. The consumer runs in a child process (bench/lib/results-child.ts) so that the
 * memory it reports is its own.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { ROOT, spawnChild, waitForLine } from "./lib/processes";
import { log, type Metric, round, type SectionResult } from "./lib/stats";
import type { SectionOptions } from "./lib/context";

const SECTION = "results";
export const RESULTS_TARGETS = { peakOverBaselineMB: 100, trendMB: 20 } as const;

/** Least-squares slope of y over x, times the x range: how much y climbs across the points. */
function trendTimesSpan(points: readonly (readonly [number, number])[]): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : (sxy / sxx) * (points[n - 1]![0] - points[0]![0]);
}

/** One realistic chat-completion result line (about 470 bytes). */
function resultLine(i: number): string {
  return (
    `{"id":"batch_req_${i}","custom_id":"request-${i}","response":{"status_code":200,"request_id":"req_${i}",` +
    `"body":{"id":"chatcmpl-${i}","object":"chat.completion","created":1767225600,"model":"gpt-4o-mini-2024-07-18",` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":"The answer to request ${i} is a short paragraph ` +
    `of generated text, long enough to look like a real completion."},"logprobs":null,"finish_reason":"stop"}],` +
    `"usage":{"prompt_tokens":42,"completion_tokens":24,"total_tokens":66}}},"error":null}\n`
  );
}

async function streamLines(response: ServerResponse, count: number): Promise<void> {
  response.writeHead(200, { "content-type": "application/octet-stream" });
  const perChunk = 500;
  for (let start = 0; start < count; start += perChunk) {
    let chunk = "";
    for (let i = start; i < Math.min(count, start + perChunk); i++) chunk += resultLine(i);
    if (!response.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          response.off("close", onClose);
          resolve();
        };
        const onClose = () => {
          response.off("drain", onDrain);
          reject(new Error("client went away"));
        };
        response.once("drain", onDrain);
        response.once("close", onClose);
      });
    }
  }
  response.end();
}

export async function runResultsMemory(options: SectionOptions): Promise<SectionResult> {
  const started = performance.now();
  const lines = options.quick ? 100_000 : 1_000_000;
  const batchId = "batch_bench_results";
  const fileId = "file-bench-output";
  const approxFileMB = round((resultLine(Math.floor(lines / 2)).length * lines) / (1024 * 1024), 0);
  const server = createServer((request, response) => {
    const url = request.url ?? "";
    if (request.method === "GET" && url.startsWith(`/v1/batches/${batchId}`)) {
      const now = Math.floor(Date.now() / 1000);
      response.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          id: batchId,
          object: "batch",
          endpoint: "/v1/chat/completions",
          input_file_id: "file-bench-input",
          completion_window: "24h",
          status: "completed",
          output_file_id: fileId,
          error_file_id: null,
          created_at: now - 3600,
          in_progress_at: now - 3500,
          finalizing_at: now - 60,
          completed_at: now,
          expires_at: now + 82_800,
          request_counts: { total: lines, completed: lines, failed: 0 },
          errors: null,
          model: "gpt-4o-mini-2024-07-18",
        }),
      );
      return;
    }
    if (request.method === "GET" && url.startsWith(`/v1/files/${fileId}/content`)) {
      streamLines(response, lines).catch(() => response.destroy());
      return;
    }
    response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: `no route ${url}` } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const child = spawnChild(
    "results streamer",
    process.execPath,
    ["--conditions=react-server", "--expose-gc", "--import", "tsx", path.join(ROOT, "bench/lib/results-child.ts")],
    {
      env: {
        ...process.env,
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        OPENAI_API_KEY: "test",
        RESULTS_BATCH_ID: batchId,
        RESULTS_EXPECTED: String(lines),
      },
    },
  );
  try {
    log(`${SECTION}: streaming ${lines.toLocaleString("en-US")} result lines in a child process`);
    const match = await waitForLine(child, /^RESULT (.*)$/, 8 * 60_000);
    const r = JSON.parse(match[1]!) as {
      lines: number;
      ok: number;
      failed: number;
      elapsedMs: number;
      linesPerSec: number;
      baseline: { rssMB: number; heapUsedMB: number };
      peak: { rssMB: number; heapUsedMB: number; externalMB: number };
      checkpoints: { lines: number; rssMB: number; heapUsedMB: number; ms: number }[];
      gcExposed: boolean;
    };
    const rssOver = round(r.peak.rssMB - r.baseline.rssMB, 1);
    const heapOver = round(r.peak.heapUsedMB - r.baseline.heapUsedMB, 1);
    // Flat: the least-squares trend of RSS over the checkpoints from 20 % of the lines on, times the
    // lines it spans. A per-line leak shows as a steady climb; a GC bump that comes back does not.
    const late = r.checkpoints.filter((c) => c.lines >= r.lines * 0.2);
    const growth = round(trendTimesSpan(late.map((c) => [c.lines, c.rssMB] as const)), 1);
    const heapGrowth = round(trendTimesSpan(late.map((c) => [c.lines, c.heapUsedMB] as const)), 1);
    const complete = r.lines === lines && r.ok === lines;
    log(`${SECTION}: ${r.lines} lines in ${r.elapsedMs} ms, peak RSS +${rssOver} MB, heap +${heapOver} MB, RSS trend ${growth} MB, heap trend ${heapGrowth} MB`);
    const metrics: Metric[] = [
      { section: SECTION, name: "result lines streamed (all parsed ok)", value: complete ? r.lines : `${r.ok} ok of ${r.lines}/${lines}` },
      { section: SECTION, name: `lines/s (file ≈ ${approxFileMB} MB)`, value: r.linesPerSec, unit: "/s" },
      { section: SECTION, name: "baseline RSS / heap (after imports)", value: `${round(r.baseline.rssMB, 1)} / ${round(r.baseline.heapUsedMB, 1)}`, unit: "MB" },
      {
        section: SECTION,
        name: "peak RSS over baseline",
        value: rssOver,
        unit: "MB",
        target: `< ${RESULTS_TARGETS.peakOverBaselineMB} MB`,
        met: rssOver < RESULTS_TARGETS.peakOverBaselineMB && complete,
      },
      { section: SECTION, name: "peak heapUsed over baseline", value: heapOver, unit: "MB" },
      {
        section: SECTION,
        name: "RSS trend over the last 80% of lines (flat)",
        value: growth,
        unit: "MB",
        // Judged on the full 1,000,000 lines only: a 100,000-line smoke run ends while the heap is still settling.
        ...(options.quick ? {} : { target: `< ${RESULTS_TARGETS.trendMB} MB`, met: growth < RESULTS_TARGETS.trendMB }),
      },
      { section: SECTION, name: "heapUsed trend over the last 80% of lines", value: heapGrowth, unit: "MB" },
    ];
    return {
      section: SECTION,
      metrics,
      details: { approxFileMB, ...r },
      notes: [
        ...(options.quick ? ["--quick: flatness is only judged on the full run's 1,000,000 lines"] : []),
        `RSS by tenth of the file (MB): ${r.checkpoints.map((c) => c.rssMB).join(", ")}; ` +
          `heapUsed (MB): ${r.checkpoints.map((c) => c.heapUsedMB).join(", ")}`,
      ],
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await child.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
