import { inngest } from "@/inngest/client";
import { watchRequested } from "@/inngest/events";
import { rethrowHonouringRateLimit } from "@/inngest/retry";
import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { continueWatch, pollOnce, pollsPerRun, WATCH_POLL_RETRIES } from "@/lib/watch/watching";

/** How many polls of one provider may run at the same moment, across all watched batches. */
export const POLL_CONCURRENCY_PER_PROVIDER = 10;

/**
 * The watcher: polls a batch, sleeps as long as `nextPollDelay` says, and repeats until the batch
 * settles — by this poll or by a native signal the settle function applied meanwhile (each wake
 * re-reads the job). A run whose watch generation is stale exits; a long watch continues in a
 * fresh run before Inngest's 1,000-step limit.
 */
export const watchBatch = inngest.createFunction(
  {
    id: "watch-batch",
    name: "Watch a batch",
    triggers: [watchRequested],
    // The watch lease is sized for this many retries of a poll step (watchLeaseGraceMs).
    retries: WATCH_POLL_RETRIES,
    // Sleeping runs hold no slot: this bounds in-flight polls per provider, not watched batches.
    concurrency: [{ key: "event.data.provider", limit: POLL_CONCURRENCY_PER_PROVIDER }],
  },
  async ({ event, step }) => {
    const { jobId, generation, continuation } = event.data;
    const polls = pollsPerRun();
    for (let poll = 0; poll < polls; poll++) {
      const decision = await step.run(`poll-${poll}`, async () => {
        try {
          return await pollOnce(await getDb(), { jobId, generation }, sendEvents);
        } catch (error) {
          rethrowHonouringRateLimit(error);
        }
      });
      if (decision.action === "stop") return { stopped: decision.why, polls: poll + 1, continuation };
      await step.sleep(`sleep-${poll}`, decision.delayMs);
    }
    const continued = await step.run("continue-in-new-run", async () =>
      continueWatch(await getDb(), { jobId, generation, continuation }, sendEvents),
    );
    return { stopped: continued ? "continued" : "settled", polls, continuation };
  },
);
