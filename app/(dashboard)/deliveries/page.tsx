import type { Metadata } from "next";
import { ResendButton } from "@/app/(dashboard)/_components/resend-button";
import Link from "next/link";
import { ActionForm } from "@/app/components/action-form";
import { AutoRefresh } from "@/app/components/auto-refresh";
import * as clock from "@/lib/clock";
import { requireSession } from "@/lib/auth/session";
import { recoverDeliveriesAction } from "@/app/actions";
import {
  defaultRecoverSince,
  FAILED_DELIVERIES_SHOWN,
  loadDeliveriesOverview,
  type DeliveryListItem,
} from "@/lib/dashboard/deliveries";
import { batchHref, humanize } from "@/lib/dashboard/format";
import { getDb } from "@/lib/db";
import { StatusBadge } from "../_components/status-badge";
import { RelativeTime } from "../_components/time";

export const metadata: Metadata = { title: "Deliveries · batchwatch" };

export default async function DeliveriesPage() {
  await requireSession("/deliveries");
  const overview = await loadDeliveriesOverview(await getDb());
  const now = clock.now();

  return (
    <>
      <AutoRefresh active={overview.pending > 0} />
      <div className="page-head">
        <h1>Deliveries</h1>
        <p className="muted" role="status">
          {overview.failedCount} failed · {overview.pending} in flight
          {overview.pending > 0 ? " · this page updates itself" : ""}
        </p>
      </div>

      <section aria-labelledby="recover-heading" className="card">
        <h2 id="recover-heading">Recover after an outage</h2>
        <p>
          Re-send every delivery that failed since a moment, for example after your receiver was down. Each keeps its{" "}
          <code>webhook-id</code>, so receivers that deduplicate stay correct.
        </p>
        <ActionForm
          action={recoverDeliveriesAction}
          submitLabel="Re-send failed deliveries"
          pendingLabel="Re-sending…"
          className="inline-form"
          ariaLabel="Recover failed deliveries"
        >
          <div className="field">
            <label htmlFor="recover-since">Failed since (UTC)</label>
            <input id="recover-since" name="since" type="datetime-local" required defaultValue={defaultRecoverSince(now)} step={60} />
          </div>
        </ActionForm>
      </section>

      <section aria-labelledby="failed-heading">
        <h2 id="failed-heading">Failed</h2>
        {overview.failed.length === 0 ? (
          <p className="muted">No failed delivery.</p>
        ) : (
          <>
            {overview.failedCount > overview.failed.length ? (
              <p className="muted">
                Showing the {FAILED_DELIVERIES_SHOWN} most recent of {overview.failedCount} failed deliveries.
              </p>
            ) : null}
            <DeliveryTable deliveries={overview.failed} now={now} caption="Failed deliveries, most recent first" withResend />
          </>
        )}
      </section>

      <section aria-labelledby="recent-heading">
        <h2 id="recent-heading">Recent</h2>
        {overview.recent.length === 0 ? (
          <p className="muted">
            Nothing delivered yet. Deliveries appear when a tracked batch settles; see <Link href="/batches">Batches</Link>.
          </p>
        ) : (
          <DeliveryTable deliveries={overview.recent} now={now} caption="Recent deliveries, newest first" />
        )}
      </section>
    </>
  );
}

function DeliveryTable({
  deliveries,
  now,
  caption,
  withResend = false,
}: {
  deliveries: DeliveryListItem[];
  now: number;
  caption: string;
  withResend?: boolean;
}) {
  return (
    <div className="table-wrap">
      <table className="data-table stack-on-phone">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Batch</th>
            <th scope="col">Destination</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last response</th>
            <th scope="col">When</th>
            {withResend ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {deliveries.map((delivery) => (
            <tr key={delivery.id}>
              <th scope="row" data-label="Event">
                <span className="mono">{delivery.eventType}</span>
                <span className="muted small block mono">{delivery.id}</span>
              </th>
              <td data-label="Batch">
                {delivery.job ? (
                  <Link href={`${batchHref(delivery.job.provider, delivery.job.batchId, delivery.job.kind)}#delivery-${delivery.id}`} className="mono">
                    {delivery.job.batchId}
                  </Link>
                ) : (
                  <span className="muted">test event</span>
                )}
                {delivery.job ? <span className="muted small block">{delivery.job.provider} · {humanize(delivery.job.kind)}</span> : null}
              </td>
              <td data-label="Destination" className="break-word">
                {delivery.destination}
              </td>
              <td data-label="Status">
                <StatusBadge status={delivery.status} />
              </td>
              <td data-label="Attempts">{delivery.attemptCount}</td>
              <td data-label="Last response" className="wrap-anywhere">
                {delivery.lastStatusCode !== null ? `HTTP ${delivery.lastStatusCode}` : null}
                {delivery.lastError ? <span className="text-bad block small">{delivery.lastError}</span> : null}
                {delivery.lastStatusCode === null && !delivery.lastError ? <span className="muted">—</span> : null}
              </td>
              <td data-label="When" className="nowrap">
                <RelativeTime iso={delivery.failedAt ?? delivery.deliveredAt ?? delivery.lastAttemptAt ?? delivery.createdAt} now={now} />
              </td>
              {withResend ? (
                <td data-label="Action">
                  <ResendButton deliveryId={delivery.id} returnTo="/deliveries" />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
