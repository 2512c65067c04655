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
  parseRecoverQuery,
  RECOVER_WINDOW_LABELS,
  RECOVER_WINDOWS,
  recoverSinceInput,
  recoveryResultMessage,
  type DeliveryListItem,
  type RecoverWindow,
} from "@/lib/dashboard/deliveries";
import { resendBlocker } from "@/lib/dashboard/delivery-state";
import { loadEngineHealth } from "@/lib/dashboard/engine-health";
import { count as formatCount, displayUrl, pathWithQuery } from "@/lib/dashboard/format";
import { getDb } from "@/lib/db";
import { previewRecovery, type RecoveryDestination, type RecoveryPreview } from "@/lib/deliver/resend";
import { DeliveryEventCells } from "../_components/delivery-batch";
import { DeliveryWhy } from "../_components/delivery-why";
import { EngineWarning } from "../_components/engine-warning";
import { FocusedNotice } from "../_components/focused-notice";
import { StatusBadge } from "../_components/status-badge";
import { ExactTime, LocalNowHint, RelativeTime } from "../_components/time";

export const metadata: Metadata = { title: "Deliveries · batchwatch" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function DeliveriesPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  await requireSession(pathWithQuery("/deliveries", params));
  const now = clock.now();
  const db = await getDb();
  const recover = parseRecoverQuery(params, now);
  const recovered = recoveryResultMessage(params);
  const [overview, health, preview] = await Promise.all([
    loadDeliveriesOverview(db),
    loadEngineHealth(db, now),
    recover.state === "preview" ? previewRecovery(db, recover.since) : Promise.resolve(null),
  ]);

  return (
    <>
      <AutoRefresh active={overview.pending > 0} />
      <div className="page-head">
        <h1>Deliveries</h1>
        <p className="muted" role="status">
          {formatCount(overview.failedCount, overview.countsCapped.failed)} failed · {formatCount(overview.pending, overview.countsCapped.pending)} in flight
          {overview.pending > 0 ? " · this page updates itself" : ""}
        </p>
      </div>

      {recovered ? <FocusedNotice id="recover-result">{recovered}</FocusedNotice> : null}
      <EngineWarning health={health} now={now} />

      <section aria-labelledby="recover-heading" className="card">
        <h2 id="recover-heading">Recover after an outage</h2>
        <p>
          Re-send the deliveries that failed since a moment, for example after your receiver was down. First see what
          would be re-sent, and to where; then confirm. Each keeps its <code>webhook-id</code>, so receivers that
          deduplicate stay correct.
        </p>
        <form method="get" action="/deliveries" className="filters" aria-label="Preview a recovery">
          <fieldset className="presets">
            <legend>Failed in the</legend>
            {(Object.keys(RECOVER_WINDOWS) as RecoverWindow[]).map((window) => (
              <button
                key={window}
                type="submit"
                name="window"
                value={window}
                className={`button${recover.state === "preview" && recover.window === window ? " button-primary" : ""}`}
              >
                {RECOVER_WINDOW_LABELS[window]}
              </button>
            ))}
          </fieldset>
        </form>
        <form method="get" action="/deliveries" className="filters" aria-label="Preview a recovery from a moment">
          <div className="field">
            <label htmlFor="recover-since">Or failed since (UTC)</label>
            <input
              id="recover-since"
              name="since"
              type="datetime-local"
              required
              step={60}
              defaultValue={recover.state === "none" ? defaultRecoverSince(now) : recover.state === "preview" ? recoverSinceInput(recover.since).slice(0, 16) : recover.sinceInput}
              aria-describedby="recover-since-hint"
              aria-invalid={recover.state === "invalid" ? true : undefined}
            />
            <LocalNowHint id="recover-since-hint" nowIso={new Date(now).toISOString()} />
          </div>
          <div className="field field-actions">
            <button type="submit" className="button">
              Preview
            </button>
          </div>
        </form>
        {recover.state === "invalid" ? (
          <p className="notice notice-bad" role="alert">
            {recover.message}
          </p>
        ) : null}
        {recover.state === "preview" && preview ? <RecoveryPreviewCard preview={preview} since={recover.since} /> : null}
      </section>

      <section aria-labelledby="failed-heading">
        <h2 id="failed-heading">Failed</h2>
        {overview.failed.length === 0 ? (
          <p className="muted">No failed delivery.</p>
        ) : (
          <>
            {overview.failedCount > overview.failed.length ? (
              <p className="muted">
                Showing the {FAILED_DELIVERIES_SHOWN} most recent of {formatCount(overview.failedCount, overview.countsCapped.failed)} failed deliveries.
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

function destinationName(destination: RecoveryDestination): string {
  if (destination.endpointName) return `endpoint ${destination.endpointName}`;
  return destination.webhookUrl ? displayUrl(destination.webhookUrl) : "unknown destination";
}

const SKIP_EXPLANATIONS: Record<string, string> = {
  endpoint_disabled: "their endpoint is disabled: enable it on the Endpoints page first",
  subscription_disabled: "their subscription is disabled (the receiver answered 410 Gone, or the batch was untracked)",
};

/** What a recovery from `since` would do: the count and destinations, what it skips and why; then the confirming POST. */
function RecoveryPreviewCard({ preview, since }: { preview: RecoveryPreview; since: Date }) {
  const { count } = preview.resend;
  const plural = (n: number) => `${n.toLocaleString("en-US")} failed ${n === 1 ? "delivery" : "deliveries"}`;
  return (
    <section aria-labelledby="recover-preview-heading" className="recover-preview">
      <h3 id="recover-preview-heading" tabIndex={-1}>
        {count === 0 ? "Nothing to re-send" : `Would re-send ${plural(count)}`} since{" "}
        <ExactTime iso={since.toISOString()} />
      </h3>
      {count > 0 ? (
        <ul className="plain-list">
          {preview.resend.destinations.map((destination) => (
            <li key={destination.endpointId ?? destination.webhookUrl}>
              {destination.count.toLocaleString("en-US")} to <span className="break-word">{destinationName(destination)}</span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No delivery that could succeed failed since then. Try a wider window.</p>
      )}
      {preview.skipped.map((skip) => (
        <p key={skip.reason} className="notice notice-warn">
          Skipping {plural(skip.count)} ({skip.destinations.map(destinationName).join(", ")}): {SKIP_EXPLANATIONS[skip.reason]}.
        </p>
      ))}
      {preview.truncated ? <p className="muted">Counted up to the first 1,000 failures; a recovery sends 500 at a time.</p> : null}
      {count > 0 ? (
        <ActionForm
          action={recoverDeliveriesAction}
          submitLabel={`Re-send ${plural(count)}`}
          pendingLabel="Re-sending…"
          buttonClassName="button button-primary"
          className="inline-form"
          ariaLabel="Recover failed deliveries"
        >
          <input type="hidden" name="since" value={recoverSinceInput(since)} />
        </ActionForm>
      ) : null}
    </section>
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
            <th scope="col">What happened</th>
            <th scope="col">When</th>
            {withResend ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {deliveries.map((delivery) => {
            const blocker = resendBlocker(delivery);
            return (
              <tr key={delivery.id}>
                <DeliveryEventCells delivery={delivery} />
                <td data-label="Destination" className="break-word">
                  {delivery.endpointId ? (
                    <Link prefetch={false} href={`/endpoints/${delivery.endpointId}`}>
                      {delivery.destination}
                    </Link>
                  ) : (
                    delivery.destination
                  )}
                </td>
                <td data-label="Status">
                  <StatusBadge status={delivery.status} />
                </td>
                <td data-label="What happened" className="wrap-anywhere">
                  <DeliveryWhy delivery={delivery} now={now} />
                </td>
                <td data-label="When" className="nowrap">
                  <RelativeTime iso={delivery.failedAt ?? delivery.deliveredAt ?? delivery.lastAttemptAt ?? delivery.createdAt} now={now} />
                </td>
                {withResend ? (
                  <td data-label="Action">
                    {blocker ? (
                      <span className="muted small">no resend: {delivery.endpointDisabled ? "endpoint disabled" : "subscription disabled"}</span>
                    ) : (
                      <ResendButton deliveryId={delivery.id} returnTo="/deliveries" answerOnPage />
                    )}
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
