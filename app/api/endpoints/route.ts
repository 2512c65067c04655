import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { createEndpoint, listEndpoints } from "@/lib/deliver/endpoints";
import { readJsonBody } from "@/lib/http";
import { z } from "zod";

export const dynamic = "force-dynamic";

/** Creates a named endpoint; 201 with its signing secret, which is never shown again. */
export const POST = authenticatedRoute(async (request) => {
  const body = await readJsonBody(request, z.unknown());
  return Response.json(await createEndpoint(await getDb(), body), { status: 201 });
});

/** Every endpoint, by name; secrets are never listed. */
export const GET = authenticatedRoute(async () => {
  return Response.json({ endpoints: await listEndpoints(await getDb()) });
});
