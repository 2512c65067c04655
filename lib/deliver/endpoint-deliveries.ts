import "server-only";
import { storableString } from "@/lib/storable";
import { z } from "zod";
import type { Queryable } from "@/lib/db";
import { decodeCursor, encodeCursor } from "@/lib/db/cursor";
import { parseOrThrow } from "@/lib/http";
import { deliverySummaryColumns, deliverySummaryFromRow, type DeliverySummary, type DeliverySummaryRow } from "@/lib/jobs/queries";
import type { JobKind, ProviderName } from "@/lib/providers/types";
import { getEndpoint } from "./endpoints";

/**
 * One endpoint's deliveries, newest first, and how well it has been receiving them. Both read
 * through the `deliveries_endpoint` index (endpoint_id, created_at desc, id desc), bounded.
 */

/** The success rate covers this many of the endpoint's latest batch deliveries (test pings aside). */
export const SUCCESS_RATE_WINDOW = 100;
export const ENDPOINT_DELIVERIES_MAX_LIMIT = 100;

export interface EndpointDelivery extends DeliverySummary {
  /** The job it reports on; null for a test ping. */
  job: { id: string; provider: ProviderName; kind: JobKind; batchId: string } | null;
}

export interface EndpointDeliveryStats {
  /** How many of the latest deliveries were looked at (at most {@link SUCCESS_RATE_WINDOW}). */
  window: number;
  delivered: number;
  failed: number;
  pending: number;
  /** delivered / (delivered + failed), 0–1; null while none has finished. */
  successRate: number | null;
}

export interface EndpointDeliveryPage {
  deliveries: EndpointDelivery[];
  nextCursor: string | null;
  stats: EndpointDeliveryStats;
}

const DELIVERY_ID = /^[A-Za-z0-9_-]{1,200}$/;

export const endpointDeliveriesQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(ENDPOINT_DELIVERIES_MAX_LIMIT).default(25),
    cursor: storableString().min(1).max(512).optional(),
  })
  .strict();

export async function listEndpointDeliveries(
  db: Queryable,
  endpointId: string,
  query: unknown = {},
): Promise<EndpointDeliveryPage> {
  const { limit, cursor } = parseOrThrow(endpointDeliveriesQuerySchema, query);
  const after = cursor ? decodeCursor(cursor, DELIVERY_ID) : null;
  const endpoint = await getEndpoint(db, endpointId); // 404 for an unknown endpoint, 400 for a malformed id
  const params: unknown[] = after ? [endpoint.id, after.at, after.id] : [endpoint.id];
  params.push(limit + 1);
  const [rows, stats] = await Promise.all([
    db.query<DeliverySummaryRow & { created_at_text: string; job_id: string | null; provider: ProviderName | null; kind: JobKind | null; batch_id: string | null }>(
      `SELECT ${deliverySummaryColumns("d")}, d.created_at::text AS created_at_text, d.job_id, j.provider, j.kind, j.batch_id
       FROM deliveries d LEFT JOIN jobs j ON j.id = d.job_id
       WHERE d.endpoint_id = $1 ${after ? "AND (d.created_at, d.id) < ($2::timestamptz, $3)" : ""}
       ORDER BY d.created_at DESC, d.id DESC LIMIT $${params.length}`,
      params,
    ),
    endpointDeliveryStats(db, endpoint.id),
  ]);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    deliveries: page.map((row) => ({
      ...deliverySummaryFromRow(row),
      job: row.job_id && row.provider && row.kind && row.batch_id ? { id: row.job_id, provider: row.provider, kind: row.kind, batchId: row.batch_id } : null,
    })),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.created_at_text, id: last.id }) : null,
    stats,
  };
}

/** Outcomes of the endpoint's latest {@link SUCCESS_RATE_WINDOW} batch deliveries. */
export async function endpointDeliveryStats(db: Queryable, endpointId: string): Promise<EndpointDeliveryStats> {
  const [row] = await db.query<{ window: number; delivered: number; failed: number; pending: number }>(
    `SELECT count(*)::int AS window,
            count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'pending')::int AS pending
     FROM (SELECT status FROM deliveries WHERE endpoint_id = $1 AND event_type <> 'webhook.test'
           ORDER BY created_at DESC, id DESC LIMIT $2) latest`,
    [endpointId, SUCCESS_RATE_WINDOW],
  );
  const { window, delivered, failed, pending } = row ?? { window: 0, delivered: 0, failed: 0, pending: 0 };
  return { window, delivered, failed, pending, successRate: delivered + failed > 0 ? delivered / (delivered + failed) : null };
}
