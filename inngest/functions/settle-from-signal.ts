import { RetryAfterError } from "inngest";
import { inngest } from "@/inngest/client";
import { signalReceived } from "@/inngest/events";
import { rethrowHonouringRateLimit } from "@/inngest/retry";
import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { applySignal, SignalNotConfirmedError } from "@/lib/watch/native-signals";

/** How long to wait before asking the provider again when it does not yet confirm a signal. */
const CONFIRMATION_RETRY_MS = 15_000;

/**
 * `batch/signal.received` → confirms a native webhook's news with the provider and settles the job
 * through the same compare-and-set as polling, within seconds of the webhook. The watcher is not
 * cancelled: it finds the job settled when it next wakes and exits.
 */
export const settleFromSignal = inngest.createFunction(
  {
    // The id predates the name; Inngest keys runs by it, so it stays (docs/architecture.md).
    id: "settle-batch",
    name: "Settle a batch from a native signal",
    triggers: [signalReceived],
    retries: 8,
    concurrency: [{ key: "event.data.provider + ':' + event.data.batchId", limit: 1 }],
  },
  async ({ event, step }) => {
    return step.run("confirm-and-settle", async () => {
      try {
        return await applySignal(await getDb(), event.data, sendEvents);
      } catch (error) {
        if (error instanceof SignalNotConfirmedError) {
          throw new RetryAfterError(error.message, CONFIRMATION_RETRY_MS, { cause: error });
        }
        rethrowHonouringRateLimit(error);
      }
    });
  },
);
