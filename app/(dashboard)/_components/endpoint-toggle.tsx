import { ActionForm } from "@/app/components/action-form";
import { setEndpointDisabledAction } from "@/app/actions";
import type { EndpointView } from "@/lib/deliver/endpoints";

/** Disables or enables an endpoint (enabling also clears the failure streak that may have disabled it). */
export function EndpointToggle({ endpoint }: { endpoint: Pick<EndpointView, "id" | "name" | "disabled"> }) {
  const verb = endpoint.disabled ? "Enable" : "Disable";
  return (
    <ActionForm
      action={setEndpointDisabledAction}
      submitLabel={verb}
      pendingLabel="Saving…"
      className="inline-form"
      ariaLabel={`${verb} endpoint ${endpoint.name}`}
    >
      <input type="hidden" name="id" value={endpoint.id} />
      <input type="hidden" name="disabled" value={endpoint.disabled ? "false" : "true"} />
    </ActionForm>
  );
}
