"use client";

import { useActionState, useState } from "react";
import { IDLE, type CreateEndpointState } from "@/lib/dashboard/action-state";
import { CopyButton } from "./copy-button";

/**
 * Creates an endpoint. The signing secret arrives once, in the server action's answer, and is
 * shown here with a copy button; it is never listed or sent again (rotate it through the API).
 */
export function CreateEndpointForm({
  action,
}: {
  action: (previous: CreateEndpointState, formData: FormData) => Promise<CreateEndpointState>;
}) {
  const [state, formAction, pending] = useActionState(action, IDLE);
  const [dismissedSecret, setDismissedSecret] = useState<string | null>(null);
  return (
    <>
      <form action={formAction} className="form-grid" aria-labelledby="create-endpoint-heading">
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
          />
          <span id="endpoint-name-hint" className="hint">
            Letters, digits, “.”, “_” and “-”. Subscribers use it as <code>&quot;endpoint&quot;</code>.
          </span>
        </div>
        <div className="field">
          <label htmlFor="endpoint-url">URL</label>
          <input id="endpoint-url" name="url" type="url" required maxLength={2048} placeholder="https://example.com/hooks/batch" />
        </div>
        <div className="field field-actions">
          <button type="submit" className="button button-primary" disabled={pending}>
            {pending ? "Creating…" : "Create endpoint"}
          </button>
        </div>
      </form>
      <div role={state.status === "error" ? "alert" : "status"}>
        {state.status === "error" ? <p className="notice notice-bad">{state.message}</p> : null}
        {state.status === "created" && state.secret !== dismissedSecret ? (
          <div className="notice notice-ok secret-reveal">
            <p>
              <strong>{state.message}</strong> Its signing secret is shown <strong>only this once</strong>: store it
              with your receiver now.
            </p>
            <p className="secret-row">
              <code id="new-endpoint-secret" className="secret">
                {state.secret}
              </code>{" "}
              <CopyButton text={state.secret} targetId="new-endpoint-secret" label="Copy secret" />
            </p>
            <button type="button" className="button button-quiet" onClick={() => setDismissedSecret(state.secret)}>
              I have stored it
            </button>
          </div>
        ) : null}
      </div>
    </>
  );
}
