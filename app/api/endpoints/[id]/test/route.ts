import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { sendEndpointTest } from "@/lib/deliver/test-delivery";
import { parseEndpointId } from "@/lib/deliver/endpoints";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

/** Sends one signed `webhook.test` event now and reports how the receiver answered. */
export const POST = authenticatedRoute<Context>(async (_request, { params }) => {
  const { id } = await params;
  return Response.json(await sendEndpointTest(await getDb(), parseEndpointId(id)));
});
