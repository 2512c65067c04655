import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import type { ReactNode } from "react";
import { ActionForm } from "@/app/components/action-form";
import { RotateSecretForm } from "@/app/components/rotate-secret-form";
import { rotateEndpointSecretAction, sendEndpointTestAction, updateEndpointUrlAction } from "@/app/actions";
import * as clock from "@/lib/clock";
import { requireSession } from "@/lib/auth/session";
import { loadEndpointPage, type EndpointPage } from "@/lib/dashboard/endpoints";
import { count, displayUrl, pathWithQuery } from "@/lib/dashboard/format";
import { getDb } from "@/lib/db";
import { DeliveryEventCells } from "../../_components/delivery-batch";
import { DeliveryWhy } from "../../_components/delivery-why";
import { EndpointToggle } from "../../_components/endpoint-toggle";
import { Facts } from "../../_components/facts";
import { StatusBadge } from "../../_components/status-badge";
import { ExactTime, RelativeTime } from "../../_components/time";

export const metadata: Metadata = { title: "Endpoint · batchwatch" };

type SearchParams = Record<string, string | string[] | undefined>;

/** One endpoint: its health and success rate, a test event, secret rotation, its URL, and its deliveries. */
export default async function EndpointDetailPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const [{ id }, query] = await Promise.all([params, searchParams]);
  await requireSession(pathWithQuery(`/endpoints/${encodeURIComponent(id)}`, query));
  const cursor = typeof query.cursor === "string" ? query.cursor : undefined;
  const page = await loadEndpointPage(await getDb(), id, cursor);
  if (!page) notFound();
  const { endpoint } = page;
  const now = clock.now();

  return (
    <>
      <p className="breadcrumb">
        <Link href="/endpoints">← Endpoints</Link>
      </p>
      <div className="page-head">
        <h1 className="mono batch-title">{endpoint.name}</h1>
        <p className="page-subtitle">
          {endpoint.disabled ? <StatusBadge status="disabled" /> : <StatusBadge status="completed" label="enabled" />}{" "}
          <span className="break-word">{displayUrl(endpoint.url)}</span>
        </p>
        {endpoint.disabled ? (
          <p className="notice notice-warn">
            Disabled{endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ""}
            {endpoint.disabledAt ? (
              <>
                {" "}
                (<RelativeTime iso={endpoint.disabledAt} now={now} />)
              </>
            ) : null}
            . Nothing is delivered to it until it is enabled; deliveries that failed meanwhile can be recovered from
            the <Link href="/deliveries">Deliveries</Link> page.
          </p>
        ) : null}
      </div>

      <Health page={page} now={now} />

      <section aria-labelledby="endpoint-actions-heading" className="card">
        <h2 id="endpoint-actions-heading">Check and change</h2>
        <div className="row-actions">
          {endpoint.disabled ? null : (
            <ActionForm
              action={sendEndpointTestAction}
              submitLabel="Send test event"
              pendingLabel="Sending…"
              className="inline-form"
              ariaLabel={`Send a test event to ${endpoint.name}`}
            >
              <input type="hidden" name="id" value={endpoint.id} />
            </ActionForm>
          )}
          <EndpointToggle endpoint={endpoint} />
        </div>
        <p className="muted small">
          A test event is one signed <code>webhook.test</code>, sent now and never retried; it does not count toward
          disabling the endpoint.
        </p>

        <h3>Signing secret</h3>
        <p>
          Secrets are never shown again after they are made. Rotating makes a new one, shown once; the old one keeps
          signing alongside it (each delivery carries both signatures) for 24 hours, so your receiver can switch without
          missing a delivery.
          {endpoint.previousSecretExpiresAt ? (
            <>
              {" "}
              <strong>
                A rotation is in progress: the previous secret signs until <ExactTime iso={endpoint.previousSecretExpiresAt} />.
              </strong>
            </>
          ) : null}
        </p>
        <RotateSecretForm action={rotateEndpointSecretAction} endpointId={endpoint.id} endpointName={endpoint.name} />

        <h3>URL</h3>
        <ActionForm
          action={updateEndpointUrlAction}
          submitLabel="Change URL"
          pendingLabel="Saving…"
          className="inline-form"
          ariaLabel={`Change the URL of ${endpoint.name}`}
        >
          <input type="hidden" name="id" value={endpoint.id} />
          <div className="field field-grow">
            <label htmlFor="endpoint-new-url">New URL</label>
            {/* Empty rather than prefilled: a URL's query string often holds a token, which the dashboard never shows. */}
            <input
              id="endpoint-new-url"
              name="url"
              type="url"
              required
              maxLength={2048}
              placeholder={displayUrl(endpoint.url)}
              aria-describedby="endpoint-new-url-hint"
            />
            <span id="endpoint-new-url-hint" className="hint">
              Now {displayUrl(endpoint.url)}. Deliveries still to be attempted go to the new URL.
            </span>
          </div>
        </ActionForm>
      </section>

      <Deliveries page={page} now={now} cursor={cursor} />
    </>
  );
}

function Health({ page, now }: { page: EndpointPage; now: number }) {
  const { endpoint, stats } = page;
  const facts: [string, ReactNode][] = [
    [
      "Success rate",
      stats.successRate === null ? (
        <span className="muted">no finished delivery yet</span>
      ) : (
        <>
          <strong>{Math.floor(stats.successRate * 1000) / 10}%</strong>{" "}
          <span className="muted small">
            of the last {count(stats.delivered + stats.failed)} finished ({count(stats.delivered)} delivered, {count(stats.failed)} failed)
          </span>
        </>
      ),
    ],
    ["In flight", count(stats.pending)],
    ["Failures in a row", count(endpoint.consecutiveFailures)],
    ["Last success", endpoint.lastSuccessAt ? <RelativeTime key="s" iso={endpoint.lastSuccessAt} now={now} /> : <span className="muted">never</span>],
    ["Created", <RelativeTime key="c" iso={endpoint.createdAt} now={now} />],
  ];
  return <Facts id="health-heading" heading="Health" facts={facts} />;
}

function Deliveries({ page, now, cursor }: { page: EndpointPage; now: number; cursor?: string }) {
  const here = `/endpoints/${page.endpoint.id}`;
  return (
    <section aria-labelledby="endpoint-deliveries-heading">
      <h2 id="endpoint-deliveries-heading">Deliveries</h2>
      {page.problem ? <p className="notice notice-warn">{page.problem}</p> : null}
      {page.deliveries.length === 0 ? (
        <p className="muted">Nothing was sent to this endpoint yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="data-table stack-on-phone">
            <caption className="visually-hidden">Deliveries to {page.endpoint.name}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Batch</th>
                <th scope="col">Status</th>
                <th scope="col">What happened</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {page.deliveries.map((delivery) => (
                <tr key={delivery.id}>
                  <DeliveryEventCells delivery={delivery} />
                  <td data-label="Status">
                    <StatusBadge status={delivery.status} />
                  </td>
                  <td data-label="What happened" className="wrap-anywhere">
                    <DeliveryWhy
                      delivery={{
                        ...delivery,
                        firstAttemptAt: null,
                        lastResponseBody: null,
                        endpointDisabled: page.endpoint.disabled,
                        subscriptionDisabled: false,
                      }}
                      now={now}
                    />
                  </td>
                  <td data-label="Created" className="nowrap">
                    <RelativeTime iso={delivery.createdAt} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor || page.nextCursor ? (
        <nav aria-label="Pagination" className="pagination">
          {cursor ? <Link href={here}>« Newest</Link> : null}
          {page.nextCursor ? <Link href={pathWithQuery(here, { cursor: page.nextCursor })}>Older »</Link> : null}
        </nav>
      ) : null}
    </section>
  );
}
