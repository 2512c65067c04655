import { deliverWebhook } from "./deliver-webhook";
import { pruneRetentionFunction } from "./prune-retention";
import { reconcile } from "./reconcile";
import { settleBatch } from "./settle-batch";
import { trackBatch } from "./track-batch";
import { watchBatch } from "./watch-batch";

/** Every function the serve route registers with Inngest. */
export const functions = [trackBatch, watchBatch, settleBatch, deliverWebhook, reconcile, pruneRetentionFunction];
