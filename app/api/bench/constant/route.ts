import { readConfig } from "@/lib/config";
import { errorResponse } from "@/lib/http";

export const dynamic = "force-dynamic";

let enabled: boolean | undefined;

/**
 * The benchmark's anchor (`npm run bench`): a POST route that answers a constant, outside the
 * proxy, so the webhook routes can be measured against what Next itself costs per request. It
 * exists only with BATCHWATCH_BENCH_ROUTES=1 (read once: this route must do nothing per request);
 * otherwise it is a 404 like any unknown path.
 */
export async function POST(): Promise<Response> {
  enabled ??= readConfig().benchRoutes;
  if (!enabled) return errorResponse("not_found", "no such route");
  return Response.json({ received: true });
}
