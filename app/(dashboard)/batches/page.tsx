import type { Metadata } from "next";
import Link from "next/link";
import { AutoRefresh } from "@/app/components/auto-refresh";
import * as clock from "@/lib/clock";
import { currentRequestOrigin, requireSession } from "@/lib/auth/session";
import { loadBatchList, parseBatchFilters, SEARCH_RESULT_LIMIT, type BatchFilters, type BatchListItem } from "@/lib/dashboard/batches";
import { loadEngineHealth } from "@/lib/dashboard/engine-health";
import { batchHref, count, humanize, pathWithQuery, timingSummary } from "@/lib/dashboard/format";
import { getDb } from "@/lib/db";
import { PROVIDER_NAMES, UNIFIED_STATUSES } from "@/lib/providers/types";
import { BatchId } from "../_components/batch-id";
import { EngineWarning } from "../_components/engine-warning";
import { JsonBlock } from "../_components/json-block";
import { ProgressBar } from "../_components/progress-bar";
import { StatusBadge } from "../_components/status-badge";
import { RelativeTime } from "../_components/time";

export const metadata: Metadata = { title: "Batches · batchwatch" };

const REFRESH_INTERVAL_MS = 4000;

type SearchParams = Record<string, string | string[] | undefined>;

export default async function BatchesPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const params = await searchParams;
  await requireSession(pathWithQuery("/batches", params));
  const filters = parseBatchFilters(params);
  const db = await getDb();
  const now = clock.now();
  const [list, health] = await Promise.all([loadBatchList(db, filters), loadEngineHealth(db, now)]);

  return (
    <>
      <div className="page-head">
        <h1>Batches</h1>
        <p className="muted" role="status">
          {list.running > 0
            ? `${list.running}${list.runningMore ? "+" : ""} ${list.running === 1 && !list.runningMore ? "batch" : "batches"} running · this page updates itself`
            : "Nothing running right now."}
        </p>
      </div>
      <AutoRefresh active={list.running > 0} intervalMs={REFRESH_INTERVAL_MS} />
      <EngineWarning health={health} now={now} />

      {list.anyTracked ? <Filters filters={filters} /> : null}
      {list.problem ? <p className="notice notice-warn">{list.problem}</p> : null}

      {!list.anyTracked ? (
        <EmptyState origin={await currentRequestOrigin()} />
      ) : list.batches.length === 0 ? (
        <p className="notice">
          No batch matches these filters. <Link href="/batches">Show all batches</Link>
        </p>
      ) : (
        <BatchTable batches={list.batches} now={now} />
      )}

      {list.searchTruncated ? (
        <p className="muted">
          Showing the newest {SEARCH_RESULT_LIMIT} matches; type more of the id to narrow the search.
        </p>
      ) : null}
      {filters.cursor || list.nextCursor ? (
        <nav aria-label="Pagination" className="pagination">
          {filters.cursor ? (
            <Link prefetch={false} href={pathWithQuery("/batches", { status: filters.status, provider: filters.provider })}>« Newest</Link>
          ) : null}
          {list.nextCursor ? (
            <Link
              prefetch={false}
              href={pathWithQuery("/batches", { status: filters.status, provider: filters.provider, cursor: list.nextCursor })}
            >
              Older »
            </Link>
          ) : null}
        </nav>
      ) : null}
    </>
  );
}

/** A plain GET form: filtering works without JavaScript and every filtered view has a URL. */
function Filters({ filters }: { filters: BatchFilters }) {
  return (
    <form method="get" action="/batches" className="filters" role="search" aria-label="Filter batches">
      <div className="field">
        <label htmlFor="filter-status">Status</label>
        <select id="filter-status" name="status" defaultValue={filters.status ?? ""}>
          <option value="">Any status</option>
          {UNIFIED_STATUSES.map((status) => (
            <option key={status} value={status}>
              {humanize(status)}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-provider">Provider</label>
        <select id="filter-provider" name="provider" defaultValue={filters.provider ?? ""}>
          <option value="">Any provider</option>
          {PROVIDER_NAMES.map((provider) => (
            <option key={provider} value={provider}>
              {provider}
            </option>
          ))}
        </select>
      </div>
      <div className="field field-grow">
        <label htmlFor="filter-q">Batch id contains</label>
        <input id="filter-q" name="q" type="search" defaultValue={filters.q ?? ""} autoComplete="off" spellCheck={false} />
      </div>
      <div className="field field-actions">
        <button type="submit" className="button button-primary">
          Apply
        </button>
        {filters.status || filters.provider || filters.q ? <Link href="/batches">Clear</Link> : null}
      </div>
    </form>
  );
}

function BatchTable({ batches, now }: { batches: BatchListItem[]; now: number }) {
  return (
    <div className="table-wrap">
      <table className="data-table stack-on-phone batch-table">
        <caption className="visually-hidden">Tracked batches, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Batch</th>
            <th scope="col">Provider</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Deliveries</th>
            <th scope="col">Tracked</th>
            <th scope="col">Duration / next poll</th>
          </tr>
        </thead>
        <tbody>
          {batches.map((batch) => {
            const timing = timingSummary(batch, now);
            return (
              <tr key={batch.id}>
                <th scope="row" data-label="Batch">
                  {/* No prefetch: this list refreshes itself, and each refresh would prefetch every row again. */}
                  <Link prefetch={false} href={batchHref(batch.provider, batch.batchId, batch.kind)} className="mono batch-link">
                    <BatchId id={batch.batchId} />
                  </Link>
                </th>
                <td data-label="Provider">
                  {batch.provider}
                  {batch.kind !== "batch" ? <span className="muted small block">{humanize(batch.kind)}</span> : null}
                </td>
                <td data-label="Status">
                  <StatusBadge status={batch.status} />
                </td>
                <td data-label="Progress">
                  <ProgressBar counts={batch.requestCounts} progress={batch.progress} settled={batch.settledAt !== null} />
                </td>
                <td data-label="Deliveries" className="delivery-state">
                  <DeliveryState batch={batch} />
                </td>
                <td data-label="Tracked" className="nowrap">
                  <RelativeTime iso={batch.trackedAt} now={now} />
                </td>
                <td data-label="Duration / next poll" className={timing.overdue ? "text-warn" : undefined}>
                  {timing.text}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The batch's webhooks at a glance: failed first (it needs acting on), then in flight, then delivered. */
function DeliveryState({ batch }: { batch: BatchListItem }) {
  const { delivered, failed, pending } = batch.deliveries;
  if (delivered + failed + pending === 0) {
    return (
      <span className="muted">
        {batch.subscriberCount === 0 ? "no subscriber" : batch.settledAt ? "none" : `${count(batch.subscriberCount)} on settle`}
      </span>
    );
  }
  return (
    <>
      {failed > 0 ? <StatusBadge status="failed" label={`${count(failed)} failed`} /> : null}
      {pending > 0 ? <StatusBadge status="pending" label={`${count(pending)} pending`} /> : null}
      {delivered > 0 ? <StatusBadge status="delivered" label={`${count(delivered)} delivered`} /> : null}
    </>
  );
}

/** What a newcomer sees before tracking anything: one command that shows the whole flow. */
function EmptyState({ origin }: { origin: { protocol: string; host: string } }) {
  const base = origin.host ? `${origin.protocol}://${origin.host}` : "http://localhost:3000";
  const command = `curl -X POST ${base}/api/batches \\
  -H "Authorization: Bearer $BATCHWATCH_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"provider":"simulated","batchId":"sim_2m_completed_50","webhookUrl":"${base}/api/examples/receiver"}'`;
  return (
    <section className="empty-state" aria-labelledby="empty-heading">
      <h2 id="empty-heading">No batches tracked yet</h2>
      <p>
        Track a batch after submitting it to your provider, and batchwatch watches it until it ends, then sends one signed
        webhook to each subscriber. To try it without a provider account, track a <strong>simulated</strong> batch that
        runs for two minutes and completes 50 requests:
      </p>
      <JsonBlock label="Example command" text={command} />
      <ul className="hints">
        <li>
          The simulated provider is on only with <code>BATCHWATCH_SIMULATED_PROVIDER=1</code>.
        </li>
        <li>
          The example receiver at <code>/api/examples/receiver</code> verifies the signature with{" "}
          <code>BATCH_WEBHOOK_SECRET</code>; delivering to a local address needs{" "}
          <code>BATCHWATCH_ALLOW_PRIVATE_WEBHOOKS=1</code> (development only).
        </li>
        <li>
          Ids encode the run: <code>sim_90s_failed_200</code> fails after 90 seconds, <code>sim_1h_expired</code> expires.
        </li>
      </ul>
    </section>
  );
}
