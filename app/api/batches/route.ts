import { sendEvents } from "@/inngest/send";
import { authenticatedRoute } from "@/lib/auth/api-key";
import { getDb } from "@/lib/db";
import { readJsonBody } from "@/lib/http";
import { jobViewFromRow, listJobs, subscriptionViewFromRow } from "@/lib/jobs/queries";
import { parseListQuery } from "@/lib/jobs/requests";
import { trackBatch } from "@/lib/track/tracking";
import { z } from "zod";

export const dynamic = "force-dynamic";

/**
 * Track a batch: 202 with the new subscription, or 200 with the existing one when this batch and
 * destination are already tracked. Answers before the provider is ever asked about the batch.
 */
export const POST = authenticatedRoute(async (request) => {
  // Any JSON here; trackBatch validates it, provider first.
  const body = await readJsonBody(request, z.unknown());
  const { created, job, subscription } = await trackBatch(await getDb(), body, sendEvents);
  return Response.json(
    { job: jobViewFromRow(job), subscription: subscriptionViewFromRow(subscription) },
    { status: created ? 202 : 200 },
  );
});

/** Tracked jobs, newest first, `limit` per page; follow `nextCursor` for the next page. */
export const GET = authenticatedRoute(async (request) => {
  const query = parseListQuery(new URL(request.url).searchParams);
  return Response.json(await listJobs(await getDb(), query));
});
