import "server-only";
import { isStorableDate } from "@/lib/storable";
import { z } from "zod";
import type { Queryable } from "@/lib/db";
import { deliverySummaryColumns, deliverySummaryFromRow, type DeliverySummary, type DeliverySummaryRow } from "@/lib/jobs/queries";
import type { JobKind, ProviderName } from "@/lib/providers/types";
import { displayUrl } from "./format";

/** The deliveries page: what failed (to act on) above what happened lately (to check on). */

export const FAILED_DELIVERIES_SHOWN = 100;
export const RECENT_DELIVERIES_SHOWN = 50;

export interface DeliveryListItem extends DeliverySummary {
  /** The job it reports on; null for endpoint test deliveries. */
  job: { provider: ProviderName; kind: JobKind; batchId: string } | null;
  destination: string;
}

export interface DeliveriesOverview {
  failed: DeliveryListItem[];
  /** Total failed, which may exceed the {@link FAILED_DELIVERIES_SHOWN} listed. */
  failedCount: number;
  recent: DeliveryListItem[];
  pending: number;
}

interface DeliveryListRow extends DeliverySummaryRow {
  provider: ProviderName | null;
  kind: JobKind | null;
  batch_id: string | null;
  webhook_url: string | null;
  endpoint_name: string | null;
}

const SELECT_DELIVERIES = `
  SELECT ${deliverySummaryColumns("d")}, j.provider, j.kind, j.batch_id, s.webhook_url, e.name AS endpoint_name
  FROM deliveries d
  LEFT JOIN jobs j ON j.id = d.job_id
  LEFT JOIN subscriptions s ON s.id = d.subscription_id
  LEFT JOIN endpoints e ON e.id = COALESCE(d.endpoint_id, s.endpoint_id)`;

function listItem(row: DeliveryListRow): DeliveryListItem {
  return {
    ...deliverySummaryFromRow(row),
    job: row.provider && row.kind && row.batch_id ? { provider: row.provider, kind: row.kind, batchId: row.batch_id } : null,
    destination: row.endpoint_name
      ? `endpoint ${row.endpoint_name}`
      : row.webhook_url
        ? displayUrl(row.webhook_url)
        : "unknown destination",
  };
}

export async function loadDeliveriesOverview(db: Queryable): Promise<DeliveriesOverview> {
  const [failed, recent, [counts]] = await Promise.all([
    db.query<DeliveryListRow>(
      `${SELECT_DELIVERIES} WHERE d.status = 'failed' ORDER BY d.failed_at DESC NULLS LAST, d.id DESC LIMIT $1`,
      [FAILED_DELIVERIES_SHOWN],
    ),
    db.query<DeliveryListRow>(
      `${SELECT_DELIVERIES} WHERE d.status <> 'failed'
       ORDER BY COALESCE(d.last_attempt_at, d.created_at) DESC, d.id DESC LIMIT $1`,
      [RECENT_DELIVERIES_SHOWN],
    ),
    db.query<{ failed: number; pending: number }>(
      `SELECT count(*) FILTER (WHERE status = 'failed')::int AS failed,
              count(*) FILTER (WHERE status = 'pending')::int AS pending FROM deliveries`,
    ),
  ]);
  return {
    failed: failed.map(listItem),
    failedCount: counts?.failed ?? 0,
    recent: recent.map(listItem),
    pending: counts?.pending ?? 0,
  };
}

/** `<input type="datetime-local">` sends `2026-11-23T09:30` (seconds optional); the form labels it UTC. */
export const recoverSinceSchema = z.object({
  since: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/, "Enter a date and time.")
    .transform((value) => new Date(`${value}Z`))
    .refine(isStorableDate, "Enter a valid date and time, from 1970 on."),
});

/** The default "recover since" value: 24 hours ago, in the UTC `datetime-local` format. */
export function defaultRecoverSince(now: number): string {
  return new Date(now - 24 * 3_600_000).toISOString().slice(0, 16);
}
