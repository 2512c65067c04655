"use client";

import { useRef, type ReactNode } from "react";

/**
 * A confirmation behind a disclosure ("Delete…"), rather than window.confirm: it works without
 * JavaScript and with a keyboard; with JavaScript, Escape closes it and returns the focus to it.
 */
export function ConfirmDisclosure({ summary, children }: { summary: string; children: ReactNode }) {
  const ref = useRef<HTMLDetailsElement>(null);
  return (
    <details
      ref={ref}
      className="confirm"
      onKeyDown={(event) => {
        if (event.key !== "Escape" || !ref.current?.open) return;
        event.preventDefault();
        ref.current.open = false;
        ref.current.querySelector("summary")?.focus();
      }}
    >
      <summary className="button button-danger-quiet">{summary}</summary>
      <div className="confirm-body">{children}</div>
    </details>
  );
}
