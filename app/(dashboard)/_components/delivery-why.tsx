import { explainDelivery, type DeliveryFacts } from "@/lib/dashboard/delivery-state";

/** Longest piece of a receiver's answer shown in a list; the batch page shows it whole. */
const ANSWER_PREVIEW_CHARS = 240;

/**
 * Why a delivery is where it is: its state in words, the receiver's last answer (status and body,
 * or the connection error) and what happens next (the next retry, or why a resend cannot help).
 */
export function DeliveryWhy({ delivery, now, full = false }: { delivery: DeliveryFacts; now: number; full?: boolean }) {
  const why = explainDelivery(delivery, now);
  const answer = why.lastAnswer && !full && why.lastAnswer.length > ANSWER_PREVIEW_CHARS
    ? `${why.lastAnswer.slice(0, ANSWER_PREVIEW_CHARS)}…`
    : why.lastAnswer;
  return (
    <div className="delivery-why">
      <span className={`why-headline text-${why.tone}`}>{why.headline}</span>
      {answer ? <span className="why-answer mono small block">{answer}</span> : null}
      {why.next ? <span className={`small block ${why.overdue ? "text-warn" : "muted"}`}>{why.next}</span> : null}
    </div>
  );
}
