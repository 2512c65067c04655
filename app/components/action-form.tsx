"use client";

import { useActionState, type ReactNode } from "react";
import { IDLE, type ActionState } from "@/lib/dashboard/action-state";

/**
 * A form bound to a server action, showing the action's answer next to its button (a polite
 * status on success, an alert on failure). It works without JavaScript too: React posts the form
 * and renders the answer on the next page. The fields are server-rendered children.
 */
export function ActionForm({
  action,
  children,
  submitLabel,
  pendingLabel,
  buttonClassName = "button",
  className,
  ariaLabel,
}: {
  action: (previous: ActionState, formData: FormData) => Promise<ActionState>;
  children?: ReactNode;
  submitLabel: string;
  pendingLabel: string;
  buttonClassName?: string;
  className?: string;
  ariaLabel?: string;
}) {
  const [state, formAction, pending] = useActionState(action, IDLE);
  return (
    <form action={formAction} className={className} aria-label={ariaLabel}>
      {children}
      <button type="submit" className={buttonClassName} disabled={pending} aria-disabled={pending}>
        {pending ? pendingLabel : submitLabel}
      </button>
      <span className="action-result" role={state.status === "error" ? "alert" : "status"}>
        {state.status === "ok" || state.status === "error" ? (
          <span className={state.status === "error" ? "text-bad" : "text-ok"}>{state.message}</span>
        ) : null}
      </span>
    </form>
  );
}
