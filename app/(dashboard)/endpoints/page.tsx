import type { Metadata } from "next";
import Link from "next/link";
import { ActionForm } from "@/app/components/action-form";
import { ConfirmDisclosure } from "@/app/components/confirm-disclosure";
import { CreateEndpointForm } from "@/app/components/create-endpoint-form";
import * as clock from "@/lib/clock";
import { requireSession } from "@/lib/auth/session";
import { createEndpointAction, deleteEndpointAction } from "@/app/actions";
import { displayUrl, eventFilterText } from "@/lib/dashboard/format";
import { getDb } from "@/lib/db";
import { listEndpoints, type EndpointView } from "@/lib/deliver/endpoints";
import { EndpointToggle } from "../_components/endpoint-toggle";
import { StatusBadge } from "../_components/status-badge";
import { RelativeTime } from "../_components/time";

export const metadata: Metadata = { title: "Endpoints · batchwatch" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function EndpointsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  await requireSession("/endpoints");
  const [endpoints, params] = await Promise.all([listEndpoints(await getDb()), searchParams]);
  const now = clock.now();
  const deletedName = typeof params.deleted === "string" ? params.deleted : null;

  return (
    <>
      <div className="page-head">
        <h1>Endpoints</h1>
        <p className="muted">
          A named endpoint is a receiver URL with its own signing secret. Track a batch with{" "}
          <code>{`"endpoint": "<name>"`}</code> instead of a <code>webhookUrl</code> to deliver to it.
        </p>
      </div>
      {deletedName ? (
        <p className="notice notice-ok" role="status">
          Endpoint <strong>{deletedName}</strong> deleted, with its subscriptions and deliveries.
        </p>
      ) : null}

      <section aria-labelledby="create-endpoint-heading" className="card">
        <h2 id="create-endpoint-heading">Create an endpoint</h2>
        {/* Keyed by the last deletion, so a secret revealed earlier does not linger after one. */}
        <CreateEndpointForm key={deletedName ?? "form"} action={createEndpointAction} />
      </section>

      <section aria-labelledby="endpoint-list-heading">
        <h2 id="endpoint-list-heading">All endpoints</h2>
        {endpoints.length === 0 ? (
          <p className="muted">No endpoint yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="data-table stack-on-phone">
              <caption className="visually-hidden">Endpoints by name (secrets are never listed)</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">URL</th>
                  <th scope="col">Default events</th>
                  <th scope="col">State</th>
                  <th scope="col">Failures in a row</th>
                  <th scope="col">Last success</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {endpoints.map((endpoint) => (
                  <EndpointRow key={endpoint.id} endpoint={endpoint} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

function EndpointRow({ endpoint, now }: { endpoint: EndpointView; now: number }) {
  return (
    <tr>
      <th scope="row" data-label="Name" className="mono">
        <Link href={`/endpoints/${endpoint.id}`}>{endpoint.name}</Link>
      </th>
      <td data-label="URL" className="break-word">
        {displayUrl(endpoint.url)}
      </td>
      <td data-label="Default events" className="small">
        {eventFilterText(endpoint.events, endpoint.eventsSet ? "own" : "default")}
      </td>
      <td data-label="State">
        {endpoint.disabled ? (
          <>
            <StatusBadge status="disabled" />
            {endpoint.disabledReason ? <span className="muted small block">{endpoint.disabledReason}</span> : null}
          </>
        ) : (
          <StatusBadge status="completed" label="enabled" />
        )}
      </td>
      <td data-label="Failures in a row">{endpoint.consecutiveFailures}</td>
      <td data-label="Last success">
        {endpoint.lastSuccessAt ? <RelativeTime iso={endpoint.lastSuccessAt} now={now} /> : <span className="muted">never</span>}
      </td>
      <td data-label="Created">
        <RelativeTime iso={endpoint.createdAt} now={now} />
      </td>
      <td data-label="Actions">
        <div className="row-actions">
          <EndpointToggle endpoint={endpoint} />
          <ConfirmDisclosure summary="Delete…">
            <p>
              Delete <strong>{endpoint.name}</strong>? Its subscriptions and deliveries are deleted too.
            </p>
            <ActionForm
              action={deleteEndpointAction}
              submitLabel={`Delete ${endpoint.name}`}
              pendingLabel="Deleting…"
              buttonClassName="button button-danger"
              ariaLabel={`Delete endpoint ${endpoint.name}`}
            >
              <input type="hidden" name="id" value={endpoint.id} />
            </ActionForm>
          </ConfirmDisclosure>
        </div>
      </td>
    </tr>
  );
}
