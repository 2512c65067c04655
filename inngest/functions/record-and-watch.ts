import { NonRetriableError } from "inngest";
import { inngest } from "@/inngest/client";
import { batchTracked } from "@/inngest/events";
import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { isAppError } from "@/lib/errors";
import { handleTrackedEvent } from "@/lib/track/tracking";

/**
 * `batch/tracked` → records the subscription (when a user's app sent the event itself), then
 * starts the job's one watcher, replays a native signal that came first, or — when the job has
 * already settled — delivers to the new subscriber at once.
 */
export const recordAndWatch = inngest.createFunction(
  // The id predates the name; Inngest keys runs by it, so it stays (docs/architecture.md).
  { id: "track-batch", name: "Record a tracked batch and watch it", triggers: [batchTracked], retries: 5 },
  async ({ event, step }) => {
    return step.run("record-and-watch", async () => {
      try {
        return await handleTrackedEvent(await getDb(), event.data, sendEvents);
      } catch (error) {
        // A bad destination or unknown endpoint will not get better by retrying.
        if (isAppError(error)) throw new NonRetriableError(error.message, { cause: error });
        throw error;
      }
    });
  },
);
