"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

/**
 * Re-renders the page's server components every `intervalMs` while `active` (the server says
 * something is still running), without a full reload: scroll, focus and form input are kept.
 * It pauses while the tab is hidden and stops by itself once the server renders `active={false}`,
 * or after `forMs` when given (for work the server cannot see yet, such as a resend just queued).
 */
export function AutoRefresh({ active, intervalMs = 4000, forMs }: { active: boolean; intervalMs?: number; forMs?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    const started = Date.now();
    const timer = setInterval(() => {
      if (forMs !== undefined && Date.now() - started > forMs) clearInterval(timer);
      else if (document.visibilityState === "visible") router.refresh();
    }, intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs, forMs, router]);
  return null;
}
