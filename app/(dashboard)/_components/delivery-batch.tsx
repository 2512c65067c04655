import Link from "next/link";
import { batchHref, humanize } from "@/lib/dashboard/format";
import type { JobKind, ProviderName } from "@/lib/providers/types";
import { BatchId } from "./batch-id";

/** The batch a delivery reports on, linked to that delivery on its page; "test event" for an endpoint test. */
function DeliveryBatch({
  job,
  deliveryId,
}: {
  job: { provider: ProviderName; kind: JobKind; batchId: string } | null;
  deliveryId: string;
}) {
  if (!job) return <span className="muted">test event</span>;
  return (
    <>
      {/* No prefetch: lists of deliveries refresh themselves. */}
      <Link prefetch={false} href={`${batchHref(job.provider, job.batchId, job.kind)}#delivery-${deliveryId}`} className="mono batch-link">
        <BatchId id={job.batchId} />
      </Link>
      <span className="muted small block">
        {job.provider} · {humanize(job.kind)}
      </span>
    </>
  );
}

/** A delivery row's first two cells: the event (its type and delivery id) and the batch it reports on. */
export function DeliveryEventCells({
  delivery,
}: {
  delivery: { id: string; eventType: string; job: { provider: ProviderName; kind: JobKind; batchId: string } | null };
}) {
  return (
    <>
      <th scope="row" data-label="Event">
        <span className="mono">{delivery.eventType}</span>
        <span className="muted small block mono">{delivery.id}</span>
      </th>
      <td data-label="Batch">
        <DeliveryBatch job={delivery.job} deliveryId={delivery.id} />
      </td>
    </>
  );
}
