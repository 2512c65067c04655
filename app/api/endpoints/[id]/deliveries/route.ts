import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { listEndpointDeliveries } from "@/lib/deliver/endpoint-deliveries";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

/** The endpoint's deliveries, newest first (`limit`, `cursor`), with its success rate. */
export const GET = authenticatedRoute<Context>(async (request, { params }) => {
  const { id } = await params;
  const query = Object.fromEntries(new URL(request.url).searchParams);
  return Response.json(await listEndpointDeliveries(await getDb(), id, query));
});
