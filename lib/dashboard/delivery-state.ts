import type { DeliverySummary } from "@/lib/jobs/queries";
import { durationText, relativeTime, type Tone } from "./format";

/**
 * Why a delivery is where it is, and what happens next, in words an operator can act on: the
 * receiver's answer, when the next retry is due (or that it is overdue), why a failed delivery
 * stopped (gave up after N attempts over D, 410 Gone, endpoint disabled — keeping the receiver's
 * answer that came before), and whether a resend could succeed at all. Pure: the pages and the
 * unit tests share it.
 */

/** A pending delivery whose attempt was due longer ago than this is reported as overdue. */
export const DELIVERY_OVERDUE_GRACE_MS = 2 * 60_000;

export interface DeliveryFacts extends Pick<
  DeliverySummary,
  "status" | "attemptCount" | "lastStatusCode" | "lastError" | "lastAttemptAt" | "deliveredAt" | "failedAt" | "createdAt" | "nextAttemptAt" | "closedReason"
> {
  /** When its first attempt was made (null before any). */
  firstAttemptAt: string | null;
  /** The body of the receiver's last answer, as stored (its first KiB); null when not known. */
  lastResponseBody: string | null;
  /** Its endpoint is disabled now (a resend would only fail again). */
  endpointDisabled: boolean;
  /** Its subscription is disabled now (410 Gone or untracked). */
  subscriptionDisabled: boolean;
}

export interface DeliveryExplanation {
  tone: Tone;
  /** One line: what state it is in and why. */
  headline: string;
  /** The receiver's last answer or the connection error, when there was an attempt. */
  lastAnswer: string | null;
  /** What happens next, or what the operator can do. */
  next: string | null;
  /** True when the "next attempt" is late, which points at the engine rather than the receiver. */
  overdue: boolean;
}

export function explainDelivery(delivery: DeliveryFacts, now: number): DeliveryExplanation {
  const lastAnswer = answerText(delivery);
  const attempts = `${delivery.attemptCount} ${delivery.attemptCount === 1 ? "attempt" : "attempts"}`;
  if (delivery.status === "delivered") {
    return { tone: "ok", headline: `Delivered after ${attempts}`, lastAnswer, next: null, overdue: false };
  }
  if (delivery.status === "pending") {
    if (delivery.nextAttemptAt) {
      const dueIn = Date.parse(delivery.nextAttemptAt) - now;
      if (dueIn < -DELIVERY_OVERDUE_GRACE_MS) {
        return {
          tone: "warn",
          headline: delivery.attemptCount === 0 ? "Queued, not sent yet" : `Retry overdue after ${attempts}`,
          lastAnswer,
          next: `The attempt was due ${relativeTime(delivery.nextAttemptAt, now)}: check that Inngest is running and reaches /api/inngest.`,
          overdue: true,
        };
      }
      return {
        tone: "active",
        headline: delivery.attemptCount === 0 ? "Queued" : `Retrying after ${attempts}`,
        lastAnswer,
        next: `Next attempt ${relativeTime(delivery.nextAttemptAt, now)}`,
        overdue: false,
      };
    }
    return {
      tone: "active",
      headline: delivery.attemptCount === 0 ? "Waiting for the first attempt" : `In flight after ${attempts}`,
      lastAnswer,
      next: null,
      overdue: false,
    };
  }
  // Failed: why it stopped, and whether sending it again could help.
  const span =
    delivery.firstAttemptAt && delivery.lastAttemptAt
      ? durationText(Math.max(0, Date.parse(delivery.lastAttemptAt) - Date.parse(delivery.firstAttemptAt)))
      : null;
  const headline = (() => {
    switch (delivery.closedReason) {
      case "gave_up":
        return `Gave up after ${attempts}${span && delivery.attemptCount > 1 ? ` over ${span}` : ""}`;
      case "gone":
        return "Stopped: the receiver answered 410 Gone, so this subscription gets no more events";
      case "endpoint_disabled":
        return "Stopped: the endpoint was disabled";
      case "subscription_disabled":
        return "Stopped: the subscription was untracked";
      case "sent_once":
        return "Test event: sent once, never retried";
      default:
        return `Failed after ${attempts}`;
    }
  })();
  return { tone: "bad", headline, lastAnswer, next: resendBlocker(delivery), overdue: false };
}

/** Why a resend cannot succeed now (and what to do first), or null when it can. */
export function resendBlocker(delivery: Pick<DeliveryFacts, "endpointDisabled" | "subscriptionDisabled" | "status">): string | null {
  if (delivery.subscriptionDisabled) return "Its subscription is disabled (410 Gone or untracked): track the batch again to resend.";
  if (delivery.endpointDisabled) return "Its endpoint is disabled: enable it, then resend.";
  return null;
}

/** The receiver's last answer: status and body, or the connection error (refused, timeout). */
function answerText(delivery: DeliveryFacts): string | null {
  if (delivery.attemptCount === 0 && delivery.lastStatusCode === null && !delivery.lastError) return null;
  if (delivery.lastStatusCode !== null) {
    // null: the body is not known here (a list that does not read it); "": the receiver sent none.
    if (delivery.lastResponseBody === null) return `HTTP ${delivery.lastStatusCode}`;
    const body = delivery.lastResponseBody.trim();
    return body ? `HTTP ${delivery.lastStatusCode}: ${body}` : `HTTP ${delivery.lastStatusCode} (empty body)`;
  }
  return delivery.lastError ? `No response: ${delivery.lastError}` : null;
}
