import { z } from "zod";
import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { recoverFailedDeliveries } from "@/lib/deliver/resend";
import { readJsonBody } from "@/lib/http";

export const dynamic = "force-dynamic";

const recoverSchema = z
  .object({ since: z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z" }) })
  .strict();

/** After a receiver outage: re-sends every delivery that failed since `since`; 202: they are queued. */
export const POST = authenticatedRoute(async (request) => {
  const { since } = await readJsonBody(request, recoverSchema);
  return Response.json(await recoverFailedDeliveries(await getDb(), new Date(since)), { status: 202 });
});
