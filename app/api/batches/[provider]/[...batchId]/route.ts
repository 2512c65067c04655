import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { streamJobResults } from "@/lib/jobs/results";
import { getJobDetail, requireTrackedJob } from "@/lib/jobs/queries";
import { parseBatchIdParam, parseKindParam, parseProviderName } from "@/lib/jobs/requests";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ provider: string; batchId: string[] }> };

/**
 * `GET /api/batches/{provider}/{batchId}`: the job with its subscriptions, deliveries and attempts.
 * `GET /api/batches/{provider}/{batchId}/results`: its per-request results as NDJSON.
 *
 * One catch-all serves both because Gemini ids contain a slash (`batches/123`): a trailing
 * `results` segment after at least one id segment selects the results.
 */
export const GET = authenticatedRoute<Context>(async (request, { params }) => {
  const { provider: providerParam, batchId: segments } = await params;
  const provider = parseProviderName(providerParam);
  const wantsResults = segments.length > 1 && segments.at(-1) === "results";
  const batchId = parseBatchIdParam(wantsResults ? segments.slice(0, -1) : segments);
  const kind = parseKindParam(new URL(request.url).searchParams);
  const db = await getDb();

  if (!wantsResults) return Response.json(await getJobDetail(db, provider, batchId, kind));

  const job = await requireTrackedJob(db, provider, batchId, kind);
  const stream = await streamJobResults(job, request.signal);
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" },
  });
});
