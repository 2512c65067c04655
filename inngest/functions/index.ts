import { deliverWebhook } from "./deliver-webhook";
import { pruneRetention } from "./prune-retention";
import { reconcile } from "./reconcile";
import { recordAndWatch } from "./record-and-watch";
import { settleFromSignal } from "./settle-from-signal";
import { watchBatch } from "./watch-batch";

/** Every function the serve route registers with Inngest. */
export const functions = [recordAndWatch, watchBatch, settleFromSignal, deliverWebhook, reconcile, pruneRetention];
