import { ActionForm } from "@/app/components/action-form";
import { resendDeliveryAction } from "@/app/actions";

/**
 * Resends one delivery (same `webhook-id`), then shows the page at `returnTo` again. In a list
 * that the resend changes (`answerOnPage`), the answer is shown by the page it returns to.
 */
export function ResendButton({ deliveryId, returnTo, answerOnPage = false }: { deliveryId: string; returnTo: string; answerOnPage?: boolean }) {
  return (
    <ActionForm
      action={resendDeliveryAction}
      submitLabel="Resend"
      pendingLabel="Resending…"
      className="inline-form"
      ariaLabel={`Resend delivery ${deliveryId}`}
      // A resent delivery that was delivered stays delivered: nothing on the page says a run is under way.
      refreshAfterSuccessMs={60_000}
    >
      <input type="hidden" name="deliveryId" value={deliveryId} />
      <input type="hidden" name="returnTo" value={returnTo} />
      {answerOnPage ? <input type="hidden" name="answerOnPage" value="1" /> : null}
    </ActionForm>
  );
}
