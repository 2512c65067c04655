import { ActionForm } from "@/app/components/action-form";
import { resendDeliveryAction } from "@/app/actions";

/** Resends one delivery (same `webhook-id`), then shows the page at `returnTo` again. */
export function ResendButton({ deliveryId, returnTo }: { deliveryId: string; returnTo: string }) {
  return (
    <ActionForm
      action={resendDeliveryAction}
      submitLabel="Resend"
      pendingLabel="Resending…"
      className="inline-form"
      ariaLabel={`Resend delivery ${deliveryId}`}
    >
      <input type="hidden" name="deliveryId" value={deliveryId} />
      <input type="hidden" name="returnTo" value={returnTo} />
    </ActionForm>
  );
}
