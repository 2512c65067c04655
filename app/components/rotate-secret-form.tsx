"use client";

import { useActionState } from "react";
import { IDLE, type RotateSecretState } from "@/lib/dashboard/action-state";
import { SecretReveal } from "./secret-reveal";

/**
 * Rotates an endpoint's signing secret: the new one is shown once; the old one keeps signing
 * alongside it for a grace period (Standard Webhooks allows several signatures per message).
 */
export function RotateSecretForm({
  action,
  endpointId,
  endpointName,
}: {
  action: (previous: RotateSecretState, formData: FormData) => Promise<RotateSecretState>;
  endpointId: string;
  endpointName: string;
}) {
  const [state, formAction, pending] = useActionState(action, IDLE);
  return (
    <>
      <form
        action={formAction}
        className="inline-form"
        aria-label={`Rotate the signing secret of ${endpointName}`}
        onSubmit={(event) => {
          if (pending) event.preventDefault();
        }}
      >
        <input type="hidden" name="id" value={endpointId} />
        <button type="submit" className="button" aria-disabled={pending}>
          {pending ? "Rotating…" : "Rotate secret"}
        </button>
      </form>
      <div role={state.status === "error" ? "alert" : "status"}>
        {state.status === "error" ? <p className="notice notice-bad">{state.message}</p> : null}
        {state.status === "rotated" ? <SecretReveal message={state.message} secret={state.secret} id="rotated-secret" /> : null}
      </div>
    </>
  );
}
