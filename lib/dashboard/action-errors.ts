import "server-only";
import { unstable_rethrow } from "next/navigation";
import { z } from "zod";
import { isAppError } from "@/lib/errors";
import { describeIssue } from "@/lib/http";
import type { ActionState } from "./action-state";

/**
 * Turns a failure inside a dashboard server action into a message for the form: an AppError's
 * message (written for users, never holding a secret) or a generic one, the details going to the
 * server log. Next's redirect and notFound signals are re-thrown untouched.
 */
export function actionError(error: unknown, what: string): ActionState {
  unstable_rethrow(error);
  if (isAppError(error)) return { status: "error", message: error.message };
  if (error instanceof z.ZodError) return { status: "error", message: describeIssue(error.issues[0]!) };
  console.error(`[batchwatch] dashboard: ${what} failed:`, error);
  return { status: "error", message: `Could not ${what}; see the server log.` };
}

/** The string fields of a form, for zod to validate (files and repeated fields are not used here). */
export function formFields(formData: FormData): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of formData.entries()) {
    if (typeof value === "string" && !name.startsWith("$ACTION")) fields[name] = value;
  }
  return fields;
}

/** `inngest_unavailable` from a resend or a recovery: raised after the events were committed to the outbox. */
export function isInngestUnavailable(error: unknown): boolean {
  return isAppError(error) && error.code === "inngest_unavailable";
}

/**
 * What a resend or recovery says when Inngest could not be reached: the events are in the outbox
 * and the reconciler sends them once Inngest runs again, so pressing again would only queue a
 * duplicate (which Inngest would drop, but which suggests the first one was lost).
 */
export const QUEUED_UNTIL_INNGEST =
  "Queued, will be sent when Inngest is reachable: Inngest did not answer just now. Don't press again; check that Inngest is running.";
