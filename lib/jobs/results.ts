import { AppError, type ErrorCode } from "@/lib/errors";
import { getProvider } from "@/lib/providers";
import { isProviderError, type ProviderErrorCode } from "@/lib/providers/errors";
import type { BatchResult } from "@/lib/providers/types";
import type { JobView } from "./queries";

/**
 * A tracked job's per-request results as NDJSON (one BatchResult per line), streamed lazily from
 * the provider's result files so a batch of any size passes through in constant memory.
 */

const APP_CODE_BY_PROVIDER_CODE: Record<ProviderErrorCode, ErrorCode> = {
  credentials: "provider_not_configured",
  not_enabled: "provider_not_configured",
  unknown_provider: "unknown_provider",
  not_found: "not_found",
  unsupported: "invalid_request",
  // The provider failed us, not the caller: a 502 whose message says which provider and why.
  rate_limited: "provider_unavailable",
  unavailable: "provider_unavailable",
  timeout: "provider_unavailable",
  invalid_response: "provider_unavailable",
};

function toAppError(error: unknown): unknown {
  if (!isProviderError(error)) return error;
  return new AppError(APP_CODE_BY_PROVIDER_CODE[error.code], `results: ${error.message}`, { cause: error });
}

function line(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value)}\n`);
}

/**
 * Opens the results and reads the first one before answering, so that a provider that refuses
 * (no credentials, no output file yet) is a proper error response rather than a broken 200. A
 * failure later in the stream ends it with one `{"error": {...}}` line.
 */
export async function streamJobResults(job: JobView, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  let iterator: AsyncIterator<BatchResult>;
  let first: IteratorResult<BatchResult>;
  try {
    const adapter = getProvider(job.provider);
    adapter.assertConfigured();
    iterator = adapter
      .results(job.batchId, { kind: job.kind, ...(job.evalId ? { evalId: job.evalId } : {}), trackedAt: Date.parse(job.trackedAt) })
      [Symbol.asyncIterator]();
    first = await iterator.next();
  } catch (error) {
    throw toAppError(error);
  }

  let pending: IteratorResult<BatchResult> | null = first;
  const stop = () => void iterator.return?.().catch(() => undefined);
  signal?.addEventListener("abort", stop, { once: true });

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = pending ?? (await iterator.next());
        pending = null;
        if (next.done) {
          controller.close();
          return;
        }
        controller.enqueue(line(next.value));
      } catch (error) {
        const appError = toAppError(error);
        const code = appError instanceof AppError ? appError.code : "internal";
        if (!(appError instanceof AppError)) console.error("[batchwatch] streaming results failed:", error);
        const message = appError instanceof AppError ? appError.message : "results stream failed; see the server log";
        controller.enqueue(line({ error: { code, message } }));
        controller.close();
      }
    },
    cancel: stop,
  });
}
