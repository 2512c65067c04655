"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useTransition } from "react";

/**
 * Shown when a dashboard page fails to load (the database is unreachable, for instance). "Try
 * again" fetches the page from the server again (router.refresh) and re-renders it in the same
 * transition (reset): resetting alone would re-render what the client already has, still broken.
 */
export default function DashboardError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const router = useRouter();
  const [retrying, startRetry] = useTransition();
  return (
    <section aria-labelledby="error-heading" className="notice notice-bad">
      <h1 id="error-heading">This page could not be loaded</h1>
      <p>
        Something failed on the server{error.digest ? ` (reference ${error.digest})` : ""}, most often the database
        being unreachable. <a href="/api/health">/api/health</a> says what is wrong, and the server log has the details.
        Nothing you did was lost.
      </p>
      <p>
        <button
          type="button"
          className="button"
          aria-disabled={retrying}
          onClick={() => {
            if (retrying) return;
            startRetry(() => {
              router.refresh();
              reset();
            });
          }}
        >
          {retrying ? "Trying again…" : "Try again"}
        </button>{" "}
        <Link href="/batches" prefetch={false}>
          Batches
        </Link>
      </p>
    </section>
  );
}
