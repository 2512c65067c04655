import { z } from "zod";
import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { deleteEndpoint, getEndpoint, updateEndpoint } from "@/lib/deliver/endpoints";
import { readJsonBody } from "@/lib/http";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

export const GET = authenticatedRoute<Context>(async (_request, { params }) => {
  const { id } = await params;
  return Response.json({ endpoint: await getEndpoint(await getDb(), id) });
});

/** url, disabled, or `rotateSecret: true` (the new secret is in this response only). */
export const PATCH = authenticatedRoute<Context>(async (request, { params }) => {
  const { id } = await params;
  const body = await readJsonBody(request, z.unknown());
  return Response.json(await updateEndpoint(await getDb(), id, body));
});

export const DELETE = authenticatedRoute<Context>(async (_request, { params }) => {
  const { id } = await params;
  await deleteEndpoint(await getDb(), id);
  return new Response(null, { status: 204 });
});
