"use client";

import { useActionState, useEffect, useRef, useState } from "react";
import { IDLE, type CreateEndpointState } from "@/lib/dashboard/action-state";
import { SecretReveal } from "./secret-reveal";

/**
 * Creates an endpoint. The signing secret arrives once, in the server action's answer, and is
 * shown here with a copy button; it is never listed or sent again (rotate it on the endpoint's
 * page). After a refusal the fields keep what was typed (the action sends it back, which also
 * works without JavaScript) and the error goes away as soon as a field is edited.
 */
export function CreateEndpointForm({
  action,
}: {
  action: (previous: CreateEndpointState, formData: FormData) => Promise<CreateEndpointState>;
}) {
  const [state, formAction, pending] = useActionState(action, IDLE);
  const [editedSince, setEditedSince] = useState<CreateEndpointState | null>(null);
  const errorRef = useRef<HTMLParagraphElement>(null);
  const fields = state.status === "error" && "fields" in state ? state.fields : undefined;
  const showError = state.status === "error" && editedSince !== state;
  useEffect(() => {
    if (state.status === "error") errorRef.current?.focus();
  }, [state]);
  return (
    <>
      <form
        action={formAction}
        className="form-grid"
        aria-labelledby="create-endpoint-heading"
        onInput={() => setEditedSince(state)}
        onSubmit={(event) => {
          if (pending) event.preventDefault();
        }}
      >
        <div className="field">
          <label htmlFor="endpoint-name">Name</label>
          <input
            id="endpoint-name"
            name="name"
            required
            maxLength={100}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autoComplete="off"
            aria-describedby="endpoint-name-hint"
            defaultValue={fields?.name ?? ""}
          />
          <span id="endpoint-name-hint" className="hint">
            Letters, digits, “.”, “_” and “-”. Subscribers use it as <code>&quot;endpoint&quot;</code>.
          </span>
        </div>
        <div className="field">
          <label htmlFor="endpoint-url">URL</label>
          <input
            id="endpoint-url"
            name="url"
            type="url"
            required
            maxLength={2048}
            placeholder="https://example.com/hooks/batch"
            defaultValue={fields?.url ?? ""}
          />
        </div>
        <div className="field field-actions">
          {/* Not `disabled` while pending: a disabled button drops the keyboard focus to <body>. */}
          <button type="submit" className="button button-primary" aria-disabled={pending}>
            {pending ? "Creating…" : "Create endpoint"}
          </button>
        </div>
      </form>
      <div role={showError ? "alert" : "status"}>
        {showError ? (
          <p ref={errorRef} tabIndex={-1} className="notice notice-bad">
            {state.message}
          </p>
        ) : null}
        {state.status === "created" ? <SecretReveal message={state.message} secret={state.secret} id="new-endpoint-secret" /> : null}
      </div>
    </>
  );
}
