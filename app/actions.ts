"use server";

import { refresh } from "next/cache";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { z } from "zod";
import {
  createSessionCookie,
  currentRequestOrigin,
  endSession,
  requireSession,
  safeNextPath,
  SESSION_COOKIE_NAME,
  shouldUseSecureCookie,
} from "@/lib/auth/session";
import { authClient, authRetryAfterSeconds, recordAuthFailure } from "@/lib/auth/throttle";
import { sendEvents } from "@/inngest/send";
import { readConfig } from "@/lib/config";
import { getDb } from "@/lib/db";
import { recoverFailedDeliveries, resendDelivery } from "@/lib/deliver/resend";
import { createEndpoint, deleteEndpoint, DISABLED_FROM_DASHBOARD, getEndpoint, updateEndpoint } from "@/lib/deliver/endpoints";
import { actionError, formFields, isInngestUnavailable, QUEUED_UNTIL_INNGEST } from "@/lib/dashboard/action-errors";
import type { ActionState, CreateEndpointState, RotateSecretState } from "@/lib/dashboard/action-state";
import { testDeliveryAnswer } from "@/lib/dashboard/endpoints";
import { displayUrl, utcTime } from "@/lib/dashboard/format";
import { sendEndpointTest } from "@/lib/deliver/test-delivery";
import { recoverSinceSchema } from "@/lib/dashboard/deliveries";
import { isAcceptedApiKey } from "@/lib/dashboard/sign-in";
import { storableString } from "@/lib/storable";

/**
 * Every dashboard mutation. Each one checks the session first (a server action is a public POST
 * endpoint whatever page renders it), validates its form with zod, and calls the same library
 * function as the HTTP API. None returns a secret except `createEndpointAction`, once.
 */

// A failed sign-in costs a moment, which makes guessing keys over HTTP slower still.
const FAILED_SIGN_IN_DELAY_MS = 400;

const signInSchema = z.object({
  apiKey: z.string().trim().min(1).max(512),
  next: z.string().max(2048).optional(),
});

export async function signInAction(formData: FormData): Promise<void> {
  const fields = formFields(formData);
  const next = safeNextPath(fields.next);
  const back = (error: string) => `/sign-in?error=${error}&next=${encodeURIComponent(next)}`;
  const config = readConfig();
  if (!config.sessionSecret || config.apiKeys.length === 0) redirect(back("not_configured"));

  // Failed sign-ins count with failed API keys; a client over the limit is refused whatever it sends.
  const client = authClient({ headers: await headers() });
  if ((await authRetryAfterSeconds(client)) !== null) redirect(back("rate_limited"));
  const parsed = signInSchema.safeParse(fields);
  if (!parsed.success || !isAcceptedApiKey(parsed.data.apiKey)) {
    await recordAuthFailure(client);
    await new Promise((resolve) => setTimeout(resolve, FAILED_SIGN_IN_DELAY_MS));
    redirect(back("invalid"));
  }
  const cookie = await createSessionCookie({
    apiKey: parsed.data.apiKey,
    secure: shouldUseSecureCookie(await currentRequestOrigin()),
  });
  (await cookies()).set(cookie.name, cookie.value, cookie.options);
  redirect(next);
}

export async function signOutAction(): Promise<void> {
  const origin = await currentRequestOrigin();
  const jar = await cookies();
  // The session itself ends server-side, so a copy of the cookie opens nothing afterwards.
  await endSession(jar.get(SESSION_COOKIE_NAME)?.value);
  // Overwritten with the same attributes it was set with, already expired.
  jar.set(SESSION_COOKIE_NAME, "", {
    httpOnly: true,
    secure: shouldUseSecureCookie(origin),
    sameSite: "lax",
    path: "/",
    maxAge: 0,
  });
  redirect("/sign-in?signed_out=1");
}

const deliveryIdSchema = z.object({
  deliveryId: storableString().min(1).max(200),
  returnTo: z.string().max(2048).optional(),
  answerOnPage: z.literal("1").optional(),
});

export async function resendDeliveryAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  const fields = formFields(formData);
  await requireSession(safeNextPath(fields.returnTo, "/deliveries"));
  let parsed: z.infer<typeof deliveryIdSchema>;
  let queued = false;
  try {
    parsed = deliveryIdSchema.parse(fields);
    await resendDelivery(await getDb(), parsed.deliveryId, sendEvents);
  } catch (error) {
    // The resend was committed to the outbox before sending failed: it is queued, not lost.
    if (!isInngestUnavailable(error)) return actionError(error, "resend this delivery");
    parsed = deliveryIdSchema.parse(fields);
    queued = true;
  }
  // In a list the row moves once it is pending, taking this form with it: the page says what happened.
  if (parsed.answerOnPage) {
    redirect(`/deliveries?${new URLSearchParams({ resent: parsed.deliveryId, ...(queued ? { queued: "1" } : {}) })}`);
  }
  refresh();
  return { status: "ok", message: queued ? QUEUED_UNTIL_INNGEST : "Queued: a new attempt will appear here shortly." };
}

/**
 * Re-sends what the previewed recovery listed, then shows /deliveries with what it did (the
 * preview it came from changes once they are pending, so the answer cannot stay on that form).
 */
export async function recoverDeliveriesAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  await requireSession("/deliveries");
  let outcome: Record<string, string>;
  try {
    const { since } = recoverSinceSchema.parse(formFields(formData));
    const { resent, more, skipped } = await recoverFailedDeliveries(await getDb(), since, sendEvents);
    outcome = {
      recovered: String(resent),
      more: more ? "1" : "0",
      skipped_endpoint: String(skipped.endpoint_disabled),
      skipped_subscription: String(skipped.subscription_disabled),
      since: since.toISOString(),
    };
  } catch (error) {
    if (!isInngestUnavailable(error)) return actionError(error, "re-send failed deliveries");
    outcome = { recovered: "queued" };
  }
  redirect(`/deliveries?${new URLSearchParams(outcome)}`);
}

const createEndpointFormSchema = z.object({ name: z.string().trim(), url: z.string().trim() });

export async function createEndpointAction(_previous: CreateEndpointState, formData: FormData): Promise<CreateEndpointState> {
  await requireSession("/endpoints");
  const fields = formFields(formData);
  try {
    // Only the shape is checked here; createEndpoint applies the API's own rules (name, URL policy).
    const input = createEndpointFormSchema.parse(fields);
    const { endpoint, secret } = await createEndpoint(await getDb(), input);
    refresh();
    return { status: "created", message: `Endpoint ${endpoint.name} created.`, endpointName: endpoint.name, secret };
  } catch (error) {
    // What was typed goes back to the form, which would otherwise be reset to empty.
    return { ...actionError(error, "create the endpoint"), fields: { name: fields.name ?? "", url: fields.url ?? "" } } as CreateEndpointState;
  }
}

const endpointToggleSchema = z.object({ id: z.uuid(), disabled: z.enum(["true", "false"]).transform((value) => value === "true") });

export async function setEndpointDisabledAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  await requireSession("/endpoints");
  try {
    const { id, disabled } = endpointToggleSchema.parse(formFields(formData));
    const { endpoint } = await updateEndpoint(await getDb(), id, { disabled }, { disabledReason: DISABLED_FROM_DASHBOARD });
    refresh();
    return { status: "ok", message: `Endpoint ${endpoint.name} ${disabled ? "disabled" : "enabled"}.` };
  } catch (error) {
    return actionError(error, "update the endpoint");
  }
}

const endpointIdSchema = z.object({ id: z.uuid() });

export async function deleteEndpointAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  await requireSession("/endpoints");
  let deletedName: string;
  try {
    const { id } = endpointIdSchema.parse(formFields(formData));
    const db = await getDb();
    deletedName = (await getEndpoint(db, id)).name;
    await deleteEndpoint(db, id);
  } catch (error) {
    return actionError(error, "delete the endpoint");
  }
  // The row that held this form is gone: the page itself confirms the deletion.
  redirect(`/endpoints?deleted=${encodeURIComponent(deletedName)}`);
}

const endpointUrlSchema = z.object({ id: z.uuid(), url: z.string().trim().min(1, "Enter the new URL.").max(2048) });

export async function updateEndpointUrlAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  await requireSession("/endpoints");
  try {
    const { id, url } = endpointUrlSchema.parse(formFields(formData));
    const { endpoint } = await updateEndpoint(await getDb(), id, { url });
    refresh();
    return { status: "ok", message: `Endpoint ${endpoint.name} now delivers to ${displayUrl(endpoint.url)}.` };
  } catch (error) {
    return actionError(error, "change the URL");
  }
}

export async function rotateEndpointSecretAction(_previous: RotateSecretState, formData: FormData): Promise<RotateSecretState> {
  await requireSession("/endpoints");
  try {
    const { id } = endpointIdSchema.parse(formFields(formData));
    const { endpoint, secret } = await updateEndpoint(await getDb(), id, { rotateSecret: true });
    refresh();
    return {
      status: "rotated",
      message: `New signing secret for ${endpoint.name}. Deliveries are signed with both secrets until ${utcTime(endpoint.previousSecretExpiresAt!)}, so switch your receiver before then.`,
      secret: secret!,
    };
  } catch (error) {
    return actionError(error, "rotate the secret");
  }
}

export async function sendEndpointTestAction(_previous: ActionState, formData: FormData): Promise<ActionState> {
  await requireSession("/endpoints");
  try {
    const { id } = endpointIdSchema.parse(formFields(formData));
    const db = await getDb();
    const { deliveryId, attempt } = await sendEndpointTest(db, id);
    const answer = await testDeliveryAnswer(db, deliveryId, attempt);
    refresh();
    return { status: answer.ok ? "ok" : "error", message: answer.message };
  } catch (error) {
    return actionError(error, "send a test event");
  }
}
