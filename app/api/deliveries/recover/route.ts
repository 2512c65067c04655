import { z } from "zod";
import { sendEvents } from "@/inngest/send";
import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { previewRecovery, recoverFailedDeliveries } from "@/lib/deliver/resend";
import { readJsonBody } from "@/lib/http";
import { isStorableDate } from "@/lib/storable";

export const dynamic = "force-dynamic";

const recoverSchema = z
  .object({
    since: z.iso
      .datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z" })
      .refine((text) => isStorableDate(new Date(text)), "must be a date-time from 1970-01-01 to 9999-12-31"),
    dryRun: z.boolean().optional(),
  })
  .strict();

/**
 * After a receiver outage: re-sends every delivery that failed since `since`; 202: they are queued.
 * With `dryRun: true`, 200 with what it would re-send and skip, sending nothing.
 */
export const POST = authenticatedRoute(async (request) => {
  const { since, dryRun } = await readJsonBody(request, recoverSchema);
  const db = await getDb();
  if (dryRun) return Response.json(await previewRecovery(db, new Date(since)));
  return Response.json(await recoverFailedDeliveries(db, new Date(since), sendEvents), { status: 202 });
});
