import { RetryAfterError } from "inngest";
import { inngest } from "@/inngest/client";
import { signalReceived } from "@/inngest/events";
import { getDb } from "@/lib/db";
import { isProviderError } from "@/lib/providers";
import { applySignal, SignalNotConfirmedError } from "@/lib/watch/native-signals";

/** How long to wait before asking the provider again when it does not yet confirm a signal. */
const CONFIRMATION_RETRY_MS = 15_000;

/**
 * `batch/signal.received` → confirms a native webhook's news with the provider and settles the job
 * through the same compare-and-set as polling, within seconds of the webhook. The watcher is not
 * cancelled: it finds the job settled when it next wakes and exits.
 */
export const settleBatch = inngest.createFunction(
  {
    id: "settle-batch",
    name: "Settle a batch from a native signal",
    triggers: [signalReceived],
    retries: 8,
    concurrency: [{ key: "event.data.provider + ':' + event.data.batchId", limit: 1 }],
  },
  async ({ event, step }) => {
    return step.run("confirm-and-settle", async () => {
      try {
        return await applySignal(await getDb(), event.data);
      } catch (error) {
        if (error instanceof SignalNotConfirmedError) {
          throw new RetryAfterError(error.message, CONFIRMATION_RETRY_MS, { cause: error });
        }
        if (isProviderError(error) && error.code === "rate_limited" && error.retryAfterMs !== undefined) {
          throw new RetryAfterError(error.message, error.retryAfterMs, { cause: error });
        }
        throw error;
      }
    });
  },
);
