import { z } from "zod";
import type { Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { parseOrThrow } from "@/lib/http";
import { SUBSCRIPTION_SELECT, subscriptionViewFromRow, type SubscriptionView } from "@/lib/jobs/queries";
import type { SubscriptionRow } from "@/lib/jobs/store";

export const UNTRACKED_REASON = "untracked";

/**
 * Stops delivering a job's outcome to one subscriber. The subscription is disabled, not deleted,
 * so the job's history (and any delivery already made) stays visible; tracking the same batch and
 * destination again re-enables it. Untracking twice is not an error.
 */
export async function untrackSubscription(db: Queryable, id: string): Promise<SubscriptionView> {
  const subscriptionId = parseOrThrow(z.object({ id: z.uuid() }), { id }).id;
  const updated = await db.query<{ id: string }>(
    `UPDATE subscriptions SET disabled_at = COALESCE(disabled_at, now()),
       disabled_reason = COALESCE(disabled_reason, $2)
     WHERE id = $1 RETURNING id`,
    [subscriptionId, UNTRACKED_REASON],
  );
  if (!updated[0]) throw new AppError("not_found", `subscription ${subscriptionId} does not exist`);
  const [row] = await db.query<SubscriptionRow & { endpoint_name: string | null }>(
    `${SUBSCRIPTION_SELECT} WHERE s.id = $1`,
    [subscriptionId],
  );
  return subscriptionViewFromRow(row!);
}
