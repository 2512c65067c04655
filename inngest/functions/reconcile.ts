import { inngest } from "@/inngest/client";
import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { nowDate } from "@/lib/clock";
import { flushStaleOutbox } from "@/lib/events/outbox";
import { deliverToLateSubscribers } from "@/lib/deliver/create-deliveries";
import { reviveLostWatchers } from "@/lib/watch/watching";

/** Outbox entries older than this and still unsent were orphaned by a crash between steps. */
const OUTBOX_STALE_MS = 2 * 60_000;

/**
 * Every five minutes: starts a watcher for every unsettled job whose watcher went silent, delivers
 * to subscribers of settled jobs that never got their delivery, and sends every outbox entry
 * (settlements, deliveries, watch starts) that was written but never sent.
 */
export const reconcile = inngest.createFunction(
  { id: "reconcile", name: "Reconcile lost watchers and unsent events", triggers: [{ cron: "*/5 * * * *" }], retries: 2 },
  async ({ step }) => {
    const revived = await step.run("revive-lost-watchers", async () => reviveLostWatchers(await getDb(), sendEvents));
    const lateDeliveries = await step.run("deliver-to-late-subscribers", async () =>
      deliverToLateSubscribers(await getDb(), sendEvents),
    );
    const resent = await step.run("send-stale-outbox", async () =>
      flushStaleOutbox(await getDb(), new Date(nowDate().getTime() - OUTBOX_STALE_MS), sendEvents),
    );
    return { revived: revived.length, lateDeliveries: lateDeliveries.length, resent };
  },
);
