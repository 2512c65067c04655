"use client";

import { useEffect, useRef, type ReactNode } from "react";

/**
 * The answer to what the user just did, shown by the page it led to: it takes the keyboard focus
 * when it appears (instead of leaving it on <body>) and is a polite status for screen readers.
 */
export function FocusedNotice({ id, children }: { id: string; children: ReactNode }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [children]);
  return (
    <p ref={ref} id={id} className="notice notice-ok" role="status" tabIndex={-1}>
      {children}
    </p>
  );
}
