import Link from "next/link";

/** A batch page for a job that is not tracked (or a provider that does not exist). */
export default function BatchNotFound() {
  return (
    <section aria-labelledby="not-found-heading">
      <h1 id="not-found-heading">This batch is not tracked</h1>
      <p>
        batchwatch knows no job with this provider and id. It may have been pruned after the retention period, or the link
        may be mistyped.
      </p>
      <p>
        <Link href="/batches">Back to all batches</Link>
      </p>
    </section>
  );
}
