import "server-only";
import { isStorableDate } from "@/lib/storable";
import { z } from "zod";
import type { Queryable } from "@/lib/db";
import { deliverySummaryColumns, deliverySummaryFromRow, type DeliverySummary, type DeliverySummaryRow } from "@/lib/jobs/queries";
import { iso } from "@/lib/jobs/store";
import type { JobKind, ProviderName } from "@/lib/providers/types";
import type { DeliveryFacts } from "./delivery-state";
import { displayUrl } from "./format";

/**
 * The deliveries page: what failed (to act on) above what happened lately (to check on). Each list
 * reads its partial index in its own order (deliveries_failed, deliveries_recent): a page, not a sort.
 */

export const FAILED_DELIVERIES_SHOWN = 100;
export const RECENT_DELIVERIES_SHOWN = 50;
/** The counts above the lists stop here ("10,000+ failed"): each reads its index, up to this many entries. */
export const DELIVERY_COUNT_CAP = 10_000;

export interface DeliveryListItem extends DeliverySummary, DeliveryFacts {
  /** The job it reports on; null for endpoint test deliveries. */
  job: { provider: ProviderName; kind: JobKind; batchId: string } | null;
  destination: string;
  /** Its named endpoint, to link to (null for a plain webhook URL). */
  endpointId: string | null;
}

export interface DeliveriesOverview {
  failed: DeliveryListItem[];
  /** Total failed (up to {@link DELIVERY_COUNT_CAP}), which may exceed the {@link FAILED_DELIVERIES_SHOWN} listed. */
  failedCount: number;
  recent: DeliveryListItem[];
  /** Deliveries in flight, up to {@link DELIVERY_COUNT_CAP}. */
  pending: number;
  /** Whether either count reached the cap (the page then says "10,000+"). */
  countsCapped: { failed: boolean; pending: boolean };
}

interface DeliveryListRow extends DeliverySummaryRow {
  provider: ProviderName | null;
  kind: JobKind | null;
  batch_id: string | null;
  webhook_url: string | null;
  endpoint_name: string | null;
  endpoint_id: string | null;
  endpoint_disabled: boolean;
  subscription_disabled: boolean;
  first_attempt_at: Date | string | null;
  last_response_body: string | null;
}

const SELECT_DELIVERIES = `
  SELECT ${deliverySummaryColumns("d")}, j.provider, j.kind, j.batch_id, s.webhook_url, e.name AS endpoint_name, e.id AS endpoint_id,
         COALESCE(e.disabled_at IS NOT NULL, false) AS endpoint_disabled,
         COALESCE(s.disabled_at IS NOT NULL, false) AS subscription_disabled,
         a.first_attempt_at, a.last_response_body
  FROM deliveries d
  LEFT JOIN jobs j ON j.id = d.job_id
  LEFT JOIN subscriptions s ON s.id = d.subscription_id
  LEFT JOIN endpoints e ON e.id = COALESCE(d.endpoint_id, s.endpoint_id)
  LEFT JOIN LATERAL (
    SELECT (SELECT min(attempted_at) FROM delivery_attempts WHERE delivery_id = d.id) AS first_attempt_at,
           (SELECT response_body FROM delivery_attempts WHERE delivery_id = d.id ORDER BY attempted_at DESC LIMIT 1) AS last_response_body
  ) a ON true`;

function listItem(row: DeliveryListRow): DeliveryListItem {
  return {
    ...deliverySummaryFromRow(row),
    job: row.provider && row.kind && row.batch_id ? { provider: row.provider, kind: row.kind, batchId: row.batch_id } : null,
    destination: row.endpoint_name
      ? `endpoint ${row.endpoint_name}`
      : row.webhook_url
        ? displayUrl(row.webhook_url)
        : "unknown destination",
    endpointId: row.endpoint_id,
    endpointDisabled: row.endpoint_disabled,
    subscriptionDisabled: row.subscription_disabled,
    firstAttemptAt: iso(row.first_attempt_at),
    lastResponseBody: row.last_response_body,
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
    // Each count reads its own index (deliveries_failed, deliveries_status), never the table, and
    // stops past the cap: failed deliveries pile up for the whole retention period.
    db.query<{ failed: number; pending: number }>(
      `SELECT (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE status = 'failed' LIMIT $1) capped)::int AS failed,
              (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE status = 'pending' LIMIT $1) capped)::int AS pending`,
      [DELIVERY_COUNT_CAP + 1],
    ),
  ]);
  const failedCount = counts?.failed ?? 0;
  const pending = counts?.pending ?? 0;
  return {
    failed: failed.map(listItem),
    failedCount: Math.min(failedCount, DELIVERY_COUNT_CAP),
    recent: recent.map(listItem),
    pending: Math.min(pending, DELIVERY_COUNT_CAP),
    countsCapped: { failed: failedCount > DELIVERY_COUNT_CAP, pending: pending > DELIVERY_COUNT_CAP },
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

/** The recovery presets: "failed in the last hour / day / week". */
export const RECOVER_WINDOWS = { "1h": 3_600_000, "24h": 24 * 3_600_000, "7d": 7 * 24 * 3_600_000 } as const;
export type RecoverWindow = keyof typeof RECOVER_WINDOWS;
export const RECOVER_WINDOW_LABELS: Record<RecoverWindow, string> = { "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days" };

/** The default "recover since" value: 24 hours ago, in the UTC `datetime-local` format. */
export function defaultRecoverSince(now: number): string {
  return new Date(now - RECOVER_WINDOWS["24h"]).toISOString().slice(0, 16);
}

export type RecoverQuery =
  | { state: "none" }
  | { state: "invalid"; message: string; sinceInput: string }
  | { state: "preview"; since: Date; sinceInput: string; window: RecoverWindow | null };

/**
 * `/deliveries?window=7d` (a preset) or `/deliveries?since=2026-11-23T09:30` (UTC): the moment a
 * recovery preview is asked for. Nothing is sent from a GET: the preview shows what a recovery
 * would re-send and skip, and its form (a POST) carries the exact moment it previewed.
 */
export function parseRecoverQuery(params: Record<string, string | string[] | undefined>, now: number): RecoverQuery {
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value) ?? "";
  const window = first(params.window);
  if (window in RECOVER_WINDOWS) {
    const since = new Date(now - RECOVER_WINDOWS[window as RecoverWindow]);
    return { state: "preview", since, sinceInput: recoverSinceInput(since), window: window as RecoverWindow };
  }
  const sinceText = first(params.since);
  if (!sinceText) return { state: "none" };
  const parsed = recoverSinceSchema.safeParse({ since: sinceText });
  if (!parsed.success) return { state: "invalid", message: parsed.error.issues[0]!.message, sinceInput: sinceText };
  if (parsed.data.since.getTime() > now) return { state: "invalid", message: "That moment is in the future.", sinceInput: sinceText };
  return { state: "preview", since: parsed.data.since, sinceInput: recoverSinceInput(parsed.data.since), window: null };
}

/** A moment in the `since` field's format (UTC, to the millisecond), which recoverSinceSchema reads back exactly. */
export function recoverSinceInput(date: Date): string {
  return date.toISOString().slice(0, 23);
}

/**
 * What a resend from the list (`resent`, `queued`) or a recovery did, from the query it redirected to (`recovered`, `more`, `skipped_endpoint`,
 * `skipped_subscription`, `since`; `recovered=queued` when Inngest was unreachable), as a sentence;
 * null without one.
 */
export function recoveryResultMessage(params: Record<string, string | string[] | undefined>): string | null {
  const first = (name: string) => {
    const value = params[name];
    return (Array.isArray(value) ? value[0] : value) ?? "";
  };
  const resent = first("resent");
  if (resent) {
    const id = /^[A-Za-z0-9_-]{1,200}$/.test(resent) ? resent : "";
    return first("queued") === "1"
      ? `Delivery ${id}: queued, will be sent when Inngest is reachable. Inngest did not answer just now; don't resend again, check that it is running.`
      : `Queued: a new attempt of delivery ${id} will appear shortly.`;
  }
  const recovered = first("recovered");
  if (!recovered) return null;
  if (recovered === "queued") {
    return "Re-sends queued, will be sent when Inngest is reachable. Inngest did not answer just now; don't re-send again, check that it is running.";
  }
  const number = (name: string) => {
    const value = Number.parseInt(first(name), 10);
    return Number.isFinite(value) && value > 0 ? value : 0;
  };
  const deliveries = (n: number) => `${n.toLocaleString("en-US")} failed ${n === 1 ? "delivery" : "deliveries"}`;
  const count = number("recovered");
  const since = Date.parse(first("since"));
  const parts = [
    count === 0
      ? `No delivery that could succeed has failed since ${Number.isNaN(since) ? "then" : `${new Date(since).toISOString().slice(0, 16).replace("T", " ")} UTC`}.`
      : `Re-sending ${deliveries(count)}.${first("more") === "1" ? " More are left: preview again to continue." : ""}`,
  ];
  if (number("skipped_endpoint") > 0) parts.push(`Skipped ${deliveries(number("skipped_endpoint"))} to a disabled endpoint.`);
  if (number("skipped_subscription") > 0) {
    parts.push(`Skipped ${deliveries(number("skipped_subscription"))} whose subscription is disabled.`);
  }
  return parts.join(" ");
}
