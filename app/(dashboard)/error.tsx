"use client";

/** Shown when a dashboard page fails to load (the database is unreachable, for instance). */
export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <section aria-labelledby="error-heading" className="notice notice-bad">
      <h1 id="error-heading">This page could not be loaded</h1>
      <p>
        Something failed on the server{error.digest ? ` (reference ${error.digest})` : ""}; the details are in the server
        log.
      </p>
      <button type="button" className="button" onClick={reset}>
        Try again
      </button>
    </section>
  );
}
