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
