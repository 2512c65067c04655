import type { Metadata } from "next";
import { ResendButton } from "@/app/(dashboard)/_components/resend-button";
import Link from "next/link";
import { notFound } from "next/navigation";
import type { ReactNode } from "react";
import { AutoRefresh } from "@/app/components/auto-refresh";
import * as clock from "@/lib/clock";
import { requireSession } from "@/lib/auth/session";
import { loadBatchPage, parseKind, type BatchPage } from "@/lib/dashboard/batches";
import { loadEngineHealth } from "@/lib/dashboard/engine-health";
import {
  batchHref,
  batchIdFromSegments,
  count,
  etaText,
  eventFilterText,
  humanize,
  pollsMade,
  prettyJson,
  resultsText,
  watchSummary,
} from "@/lib/dashboard/format";
import { resendBlocker } from "@/lib/dashboard/delivery-state";
import { buildTimeline, deliveryDestination, destinationLabel, groupedAttempts } from "@/lib/dashboard/timeline";
import { getDb } from "@/lib/db";
import { DeliveryWhy } from "../../../_components/delivery-why";
import { EngineWarning } from "../../../_components/engine-warning";
import { Facts } from "../../../_components/facts";
import { JsonBlock } from "../../../_components/json-block";
import { ProgressBar } from "../../../_components/progress-bar";
import { StatusBadge } from "../../../_components/status-badge";
import { ExactTime, RelativeTime } from "../../../_components/time";

type Params = { provider: string; batchId: string[] };
type SearchParams = Record<string, string | string[] | undefined>;

const REFRESH_INTERVAL_MS = 3000;

export async function generateMetadata({ params }: { params: Promise<Params> }): Promise<Metadata> {
  const { batchId } = await params;
  return { title: `${batchIdFromSegments(batchId)} · batchwatch` };
}

export default async function BatchPage({
  params,
  searchParams,
}: {
  params: Promise<Params>;
  searchParams: Promise<SearchParams>;
}) {
  const [{ provider, batchId: segments }, query] = await Promise.all([params, searchParams]);
  const batchId = batchIdFromSegments(segments);
  const kind = parseKind(query.kind);
  const here = batchHref(provider, batchId, kind);
  await requireSession(here);

  const db = await getDb();
  const now = clock.now();
  const [page, health] = await Promise.all([loadBatchPage(db, provider, batchId, kind), loadEngineHealth(db, now)]);
  if (!page) notFound();
  const { job } = page;
  const settled = job.settledAt !== null;
  // Pending, or delivered with a resend on its way (a delivered delivery stays delivered).
  const deliveriesInFlight = page.deliveries.some(
    (delivery) => delivery.status === "pending" || (delivery.status === "delivered" && delivery.nextAttemptAt !== null),
  );

  return (
    <>
      <AutoRefresh active={!settled || deliveriesInFlight} intervalMs={REFRESH_INTERVAL_MS} />
      <p className="breadcrumb">
        <Link href="/batches">← Batches</Link>
      </p>
      <div className="page-head">
        <h1 className="mono batch-title">{job.batchId}</h1>
        <p className="page-subtitle">
          <StatusBadge status={job.status} /> <span>{job.provider}</span> · <span>{humanize(job.kind)}</span>
          {job.evalId ? (
            <>
              {" "}
              · eval <span className="mono">{job.evalId}</span>
            </>
          ) : null}
        </p>
        {/* Announced when it changes, so it holds no countdown ("next poll in 20 s" is in the summary below). */}
        <p className="muted" role="status">
          {settled ? `Settled ${humanize(job.outcome ?? "")}.` : "Watching; this page updates itself."}
          {deliveriesInFlight ? " A delivery is in flight; this page updates itself." : ""}
        </p>
      </div>
      <EngineWarning health={health} now={now} />

      <Summary page={page} now={now} />

      {page.kindDetail ? (
        <section aria-labelledby="detail-heading">
          <h2 id="detail-heading">{humanize(job.kind)} detail</h2>
          <JsonBlock label={`${humanize(job.kind)} detail as JSON`} text={prettyJson(page.kindDetail)} />
        </section>
      ) : null}

      <Deliveries page={page} here={here} now={now} />
      <Timeline page={page} />
      <Subscribers page={page} />
    </>
  );
}

function Summary({ page, now }: { page: BatchPage; now: number }) {
  const { job } = page;
  const facts: [string, ReactNode][] = [
    ["Progress", <ProgressBar key="p" counts={job.requestCounts} progress={job.progress} settled={job.settledAt !== null} />],
    ["Provider status", job.providerStatus ?? <span className="muted">not polled yet</span>],
    ...(job.settledAt ? [] : ([["Expected to finish", etaText(job.eta, now) ?? <span className="muted">—</span>]] as [string, ReactNode][])),
    ["Tracked", <RelativeTime key="t" iso={job.trackedAt} now={now} />],
    [job.settledAt ? "Settled" : "Next poll", job.settledAt ? <ExactTime key="s" iso={job.settledAt} /> : watchSummary(job, now)],
    ["Outcome", job.outcome ? <StatusBadge key="o" status={job.outcome} /> : <span className="muted">not yet</span>],
    ...(resultsText(job.results) ? ([["Requests", resultsText(job.results)]] as [string, ReactNode][]) : []),
    ["Reason", job.settleReason ? humanize(job.settleReason) : <span className="muted">reported by the provider</span>],
    ["Settled by", job.settledBy ?? <span className="muted">—</span>],
    ["Polls", count(pollsMade(job))],
    ["Last polled", <ExactTime key="l" iso={job.lastPolledAt} />],
    ["Created at provider", <ExactTime key="c" iso={job.providerCreatedAt} />],
    ["Ended at provider", <ExactTime key="e" iso={job.providerEndedAt} />],
    ["Expires", <ExactTime key="x" iso={job.expiresAt} />],
    ["Subscribers", String(page.subscriberCount)],
  ];
  return <Facts id="summary-heading" heading="Summary" facts={facts} />;
}

function Deliveries({ page, here, now }: { page: BatchPage; here: string; now: number }) {
  return (
    <section aria-labelledby="deliveries-heading">
      <h2 id="deliveries-heading">Deliveries</h2>
      {page.deliveries.length === 0 ? (
        <p className="muted">
          {page.job.settledAt
            ? "No delivery: there was no active subscriber when the batch settled."
            : "Each subscriber gets one delivery when the batch settles."}
        </p>
      ) : (
        page.deliveries.map((delivery) => {
          const payload = page.payloads[delivery.id];
          const subscription = page.subscriptions.find((each) => each.id === delivery.subscriptionId);
          const endpointId = delivery.endpointId ?? (subscription?.destination.type === "endpoint" ? subscription.destination.endpointId : null);
          const groups = groupedAttempts(delivery.attempts);
          const last = groups.at(-1)?.attempt;
          const facts = {
            ...delivery,
            firstAttemptAt: groups[0]?.firstAt ?? null,
            lastResponseBody: last?.responseBody ?? null,
            endpointDisabled: endpointId !== null && page.disabledEndpointIds.includes(endpointId),
            subscriptionDisabled: Boolean(subscription?.disabledAt),
          };
          const blocker = delivery.status === "delivered" ? null : resendBlocker(facts);
          return (
            <article key={delivery.id} id={`delivery-${delivery.id}`} className="card" aria-labelledby={`delivery-${delivery.id}-title`}>
              <header className="card-head">
                <h3 id={`delivery-${delivery.id}-title`}>
                  <span className="mono">{delivery.eventType}</span> to{" "}
                  {endpointId ? (
                    <Link prefetch={false} href={`/endpoints/${endpointId}`}>
                      {deliveryDestination(delivery, page.subscriptions, page.endpointNames)}
                    </Link>
                  ) : (
                    deliveryDestination(delivery, page.subscriptions, page.endpointNames)
                  )}
                </h3>
                <StatusBadge status={delivery.status} />
              </header>
              <DeliveryWhy delivery={facts} now={now} full />
              <p className="muted small">
                Delivery <span className="mono">{delivery.id}</span> (the <code>webhook-id</code> on every attempt) ·{" "}
                {delivery.attemptCount} {delivery.attemptCount === 1 ? "attempt" : "attempts"}
              </p>
              {groups.length > 0 ? (
                <div className="table-wrap">
                  <table className="data-table compact stack-on-phone">
                    <caption className="visually-hidden">Attempts of delivery {delivery.id}</caption>
                    <thead>
                      <tr>
                        <th scope="col">Attempt</th>
                        <th scope="col">At</th>
                        <th scope="col">Response</th>
                        <th scope="col">Duration</th>
                        <th scope="col">Error or body</th>
                      </tr>
                    </thead>
                    <tbody>
                      {groups.map((group) => {
                        const { attempt } = group;
                        return (
                          <tr key={`${attempt.runId}-${group.first}`}>
                            <th scope="row" data-label="Attempt">
                              {group.count > 1 ? `#${group.first}–#${group.last}` : `#${group.first}`}
                              {group.count > 1 ? <span className="muted small block">{group.count} times, same answer</span> : null}
                              {group.newRun ? <span className="muted small block">new run</span> : null}
                            </th>
                            <td data-label="At">
                              <ExactTime iso={group.firstAt} />
                              {group.count > 1 ? (
                                <span className="small block">
                                  to <ExactTime iso={group.lastAt} />
                                </span>
                              ) : null}
                            </td>
                            <td data-label="Response">
                              {attempt.statusCode === null ? (
                                <span className="text-bad">no response</span>
                              ) : (
                                <span className={attempt.statusCode < 300 ? "text-ok" : "text-bad"}>HTTP {attempt.statusCode}</span>
                              )}
                            </td>
                            <td data-label="Duration">{attempt.durationMs.toLocaleString("en-US")} ms</td>
                            <td data-label="Error or body" className="wrap-anywhere">
                              {attempt.error && !(attempt.statusCode !== null && attempt.responseBody) ? <span className="block">{attempt.error}</span> : null}
                              {attempt.responseBody ? (
                                <JsonBlock label={`Response body of attempt ${group.last}`} text={attempt.responseBody} small />
                              ) : attempt.error ? null : (
                                <span className="muted">—</span>
                              )}
                            </td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              ) : (
                <p className="muted">No attempt yet.</p>
              )}
              {blocker ? (
                <p className="notice notice-warn">
                  No resend: {blocker}
                  {endpointId && facts.endpointDisabled ? (
                    <>
                      {" "}
                      <Link prefetch={false} href={`/endpoints/${endpointId}`}>
                        Open the endpoint
                      </Link>
                    </>
                  ) : null}
                </p>
              ) : (
                <ResendButton deliveryId={delivery.id} returnTo={here} />
              )}
              {payload !== undefined ? (
                <details className="payload">
                  <summary>Event as sent</summary>
                  <JsonBlock label={`Event sent by delivery ${delivery.id}, as JSON`} text={prettyJson(payload)} />
                </details>
              ) : null}
            </article>
          );
        })
      )}
    </section>
  );
}

function Timeline({ page }: { page: BatchPage }) {
  const entries = buildTimeline(page, page.endpointNames);
  return (
    <section aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <ol className="timeline">
        {entries.map((entry, index) => (
          <li key={index} className={`timeline-entry tone-${entry.tone}`}>
            <ExactTime iso={entry.at} />
            <div>
              <strong>{entry.title}</strong>
              {entry.facts.length > 0 ? (
                <ul className="timeline-facts">
                  {entry.facts.map((fact, factIndex) => (
                    <li key={factIndex} className="wrap-anywhere">
                      {fact}
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Subscribers({ page }: { page: BatchPage }) {
  return (
    <section aria-labelledby="subscribers-heading">
      <h2 id="subscribers-heading">Subscribers</h2>
      {page.subscriptions.length === 0 ? (
        <p className="muted">No subscriber.</p>
      ) : (
        <ul className="plain-list">
          {page.subscriptions.map((subscription) => (
            <li key={subscription.id}>
              <span className="wrap-anywhere">{destinationLabel(subscription.destination)}</span>
              <span className="muted small block">
                Receives: {eventFilterText(subscription.events, subscription.eventsFrom === "subscription" ? "own" : subscription.eventsFrom)}
                {subscription.group ? ` · group ${subscription.group}` : ""}
              </span>
              {subscription.disabledAt ? (
                <>
                  {" "}
                  <StatusBadge status="disabled" label={`untracked${subscription.disabledReason ? `: ${subscription.disabledReason}` : ""}`} />
                </>
              ) : null}
              {Object.keys(subscription.metadata).length > 0 ? (
                <JsonBlock label="Subscription metadata as JSON" text={prettyJson(subscription.metadata)} small />
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
