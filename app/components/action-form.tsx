"use client";

import { useActionState, type ReactNode } from "react";
import { IDLE, type ActionState } from "@/lib/dashboard/action-state";
import { AutoRefresh } from "./auto-refresh";

/**
 * A form bound to a server action, showing the action's answer next to its button (a polite
 * status on success, an alert on failure). It works without JavaScript too: React posts the form
 * and renders the answer on the next page. The fields are server-rendered children. The button
 * keeps the focus through the round trip, so a keyboard user stays where they acted.
 */
export function ActionForm({
  action,
  children,
  submitLabel,
  pendingLabel,
  buttonClassName = "button",
  className,
  ariaLabel,
  refreshAfterSuccessMs,
}: {
  action: (previous: ActionState, formData: FormData) => Promise<ActionState>;
  children?: ReactNode;
  submitLabel: string;
  pendingLabel: string;
  buttonClassName?: string;
  className?: string;
  ariaLabel?: string;
  /** After a success, refresh the page for this long (what the action started shows up without a reload). */
  refreshAfterSuccessMs?: number;
}) {
  const [state, formAction, pending] = useActionState(action, IDLE);
  return (
    <form
      action={formAction}
      className={className}
      aria-label={ariaLabel}
      onSubmit={(event) => {
        if (pending) event.preventDefault();
      }}
    >
      {children}
      {/* Not `disabled` while pending: a disabled button drops the keyboard focus to <body>. */}
      <button type="submit" className={buttonClassName} aria-disabled={pending}>
        {pending ? pendingLabel : submitLabel}
      </button>
      {refreshAfterSuccessMs ? <AutoRefresh active={state.status === "ok"} intervalMs={3000} forMs={refreshAfterSuccessMs} /> : null}
      <span className="action-result" role={state.status === "error" ? "alert" : "status"}>
        {state.status === "ok" || state.status === "error" ? (
          <span className={state.status === "error" ? "text-bad" : "text-ok"}>{state.message}</span>
        ) : null}
      </span>
    </form>
  );
}
