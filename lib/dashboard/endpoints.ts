import "server-only";
import type { Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { getEndpoint, type EndpointView } from "@/lib/deliver/endpoints";
import { listEndpointDeliveries, type EndpointDeliveryPage } from "@/lib/deliver/endpoint-deliveries";

/** One endpoint's page: the endpoint, a page of its deliveries (newest first) and its success rate. */
export interface EndpointPage extends EndpointDeliveryPage {
  endpoint: EndpointView;
  /** A user-facing problem with the query (a stale cursor), shown above the list. */
  problem: string | null;
}

export const ENDPOINT_DELIVERIES_PER_PAGE = 25;

/** The endpoint's page, or null when there is no such endpoint (or the id is not one). */
export async function loadEndpointPage(db: Queryable, id: string, cursor?: string): Promise<EndpointPage | null> {
  let endpoint: EndpointView;
  try {
    endpoint = await getEndpoint(db, id);
  } catch (error) {
    if (error instanceof AppError && (error.code === "not_found" || error.code === "invalid_request")) return null;
    throw error;
  }
  try {
    const page = await listEndpointDeliveries(db, endpoint.id, { limit: ENDPOINT_DELIVERIES_PER_PAGE, ...(cursor ? { cursor } : {}) });
    return { endpoint, ...page, problem: null };
  } catch (error) {
    if (!(error instanceof AppError && error.code === "invalid_request") || !cursor) throw error;
    const page = await listEndpointDeliveries(db, endpoint.id, { limit: ENDPOINT_DELIVERIES_PER_PAGE });
    return { endpoint, ...page, problem: "That page link is no longer valid; showing the newest deliveries." };
  }
}

/** The receiver's answer to a test event, for the form that sent it. */
export async function testDeliveryAnswer(
  db: Queryable,
  deliveryId: string,
  attempt: { ok: boolean; statusCode: number | null; durationMs: number; error: string | null },
): Promise<{ ok: boolean; message: string }> {
  const [row] = await db.query<{ response_body: string | null }>(
    "SELECT response_body FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempted_at DESC LIMIT 1",
    [deliveryId],
  );
  const body = row?.response_body?.trim();
  const took = `in ${attempt.durationMs.toLocaleString("en-US")} ms`;
  if (attempt.ok) return { ok: true, message: `Test event delivered: HTTP ${attempt.statusCode} ${took}.` };
  if (attempt.statusCode !== null) {
    return { ok: false, message: `Test event refused: HTTP ${attempt.statusCode} ${took}${body ? `: ${body.slice(0, 300)}` : " (empty body)"}.` };
  }
  return { ok: false, message: `Test event not delivered: ${attempt.error ?? "no response"}.` };
}
