import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { untrackSubscription } from "@/lib/track/untrack";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

/** Untrack: no event is delivered to this subscription any more; its history stays. */
export const DELETE = authenticatedRoute<Context>(async (_request, { params }) => {
  const { id } = await params;
  return Response.json({ subscription: await untrackSubscription(await getDb(), id) });
});
