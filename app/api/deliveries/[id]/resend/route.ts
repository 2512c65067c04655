import { z } from "zod";
import { sendEvents } from "@/inngest/send";
import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { resendDelivery } from "@/lib/deliver/resend";
import { parseOrThrow } from "@/lib/http";
import { storableString } from "@/lib/storable";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

const paramsSchema = z.object({ id: storableString().min(1).max(200) });

/** Sends a delivery again (same `webhook-id`, so receivers can deduplicate); 202: it is queued. */
export const POST = authenticatedRoute<Context>(async (_request, { params }) => {
  const { id } = parseOrThrow(paramsSchema, await params);
  return Response.json(await resendDelivery(await getDb(), id, sendEvents), { status: 202 });
});
