import "server-only";
import { z } from "zod";
import { readConfig } from "@/lib/config";
import { nowDate } from "@/lib/clock";
import type { Queryable } from "@/lib/db";
import { AppError } from "@/lib/errors";
import { parseOrThrow } from "@/lib/http";
import { validateWebhookUrl } from "@/lib/security/destination-policy";
import { encryptSecret } from "@/lib/security/secret-box";
import { decodeSecret, generateWebhookSecret, SECRET_PREFIX } from "@/lib/security/standard-webhooks";
import { iso } from "@/lib/jobs/store";
import { DEFAULT_EVENT_FILTER, eventFilterSchema } from "./event-filter";
import type { SubscribableEventType } from "./unified-event";

/**
 * Named webhook endpoints: a URL plus a signing secret that batchwatch generates (or is given),
 * encrypts at rest, and shows exactly once — when it is created or rotated. A rotated-out secret
 * keeps signing (alongside the new one) for {@link PREVIOUS_SECRET_VALIDITY_HOURS}, so receivers
 * can switch over without dropping a delivery.
 */

export const PREVIOUS_SECRET_VALIDITY_HOURS = 24;

/** The Standard Webhooks spec asks for secrets of 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

export interface EndpointView {
  id: string;
  name: string;
  url: string;
  disabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
  consecutiveFailures: number;
  lastSuccessAt: string | null;
  firstFailureAt: string | null;
  /** When the rotated-out secret stops signing; null when no rotation is in progress. */
  previousSecretExpiresAt: string | null;
  /** The default event filter of its subscriptions (those without a filter of their own). */
  events: SubscribableEventType[];
  /** Whether that filter was set (false: the four outcomes, the default). */
  eventsSet: boolean;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint together with its signing secret: only ever returned by create and rotate. */
export interface EndpointWithSecret {
  endpoint: EndpointView;
  secret: string;
}

interface EndpointRow {
  id: string;
  name: string;
  url: string;
  disabled_at: Date | null;
  disabled_reason: string | null;
  consecutive_failures: number;
  last_success_at: Date | null;
  first_failure_at: Date | null;
  previous_secret_expires_at: Date | null;
  events: string[] | null;
  created_at: Date;
  updated_at: Date;
}

// Never `SELECT *`: the encrypted secrets stay out of every read that is not signing.
const VIEW_COLUMNS = `id, name, url, disabled_at, disabled_reason, consecutive_failures, last_success_at,
  first_failure_at, previous_secret_expires_at, events, created_at, updated_at`;

function endpointView(row: EndpointRow): EndpointView {
  // An expired previous secret is no longer in use, so it is not reported as a rotation.
  const previousExpiry = row.previous_secret_expires_at && new Date(row.previous_secret_expires_at) > new Date()
    ? iso(row.previous_secret_expires_at)
    : null;
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    disabled: row.disabled_at !== null,
    disabledAt: iso(row.disabled_at),
    disabledReason: row.disabled_reason,
    consecutiveFailures: row.consecutive_failures,
    lastSuccessAt: iso(row.last_success_at),
    firstFailureAt: iso(row.first_failure_at),
    previousSecretExpiresAt: previousExpiry,
    events: [...((row.events ?? DEFAULT_EVENT_FILTER) as SubscribableEventType[])],
    eventsSet: row.events !== null,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}

// ---------------------------------------------------------------------------------------------
// Request schemas
// ---------------------------------------------------------------------------------------------

const endpointIdSchema = z.object({ id: z.uuid() });

/** Path ids are checked before they reach SQL, so a malformed one is a 400, not a driver error. */
export function parseEndpointId(id: unknown): string {
  return parseOrThrow(endpointIdSchema, { id }).id;
}

const secretSchema = z.string().superRefine((value, ctx) => {
  if (!value.startsWith(SECRET_PREFIX)) {
    ctx.addIssue({ code: "custom", message: `must start with "${SECRET_PREFIX}"` });
    return;
  }
  let bytes: number;
  try {
    bytes = decodeSecret(value).length;
  } catch {
    ctx.addIssue({ code: "custom", message: `must be "${SECRET_PREFIX}" followed by base64` });
    return;
  }
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    ctx.addIssue({
      code: "custom",
      message: `must decode to ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes, got ${bytes}`,
    });
  }
});

export const createEndpointSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-', starting with a letter or digit"),
    url: z.string().min(1).max(2048),
    secret: secretSchema.optional(),
    /** The default event filter of its subscriptions (default: the four outcomes). */
    events: eventFilterSchema.optional(),
  })
  .strict();

export const updateEndpointSchema = z
  .object({
    url: z.string().min(1).max(2048).optional(),
    disabled: z.boolean().optional(),
    rotateSecret: z.literal(true).optional(),
    /** A new default event filter; null goes back to the four outcomes. */
    events: eventFilterSchema.nullable().optional(),
  })
  .strict()
  .refine((value) => Object.keys(value).length > 0, { message: "give url, disabled, rotateSecret or events" });

export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;
export type UpdateEndpointInput = z.infer<typeof updateEndpointSchema>;

async function checkedUrl(url: string): Promise<string> {
  const parsed = await validateWebhookUrl(url, { allowPrivate: readConfig().allowPrivateWebhooks });
  return parsed.toString();
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

/** Creates an endpoint; its name must be free (`conflict` otherwise). */
export async function createEndpoint(db: Queryable, input: unknown): Promise<EndpointWithSecret> {
  const request = parseOrThrow(createEndpointSchema, input);
  const url = await checkedUrl(request.url);
  const secret = request.secret ?? generateWebhookSecret();
  const rows = await db.query<EndpointRow>(
    `INSERT INTO endpoints (name, url, secret_encrypted, events) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO NOTHING RETURNING ${VIEW_COLUMNS}`,
    [request.name, url, encryptSecret(secret), request.events ?? null],
  );
  if (!rows[0]) throw new AppError("conflict", `an endpoint named "${request.name}" already exists`);
  return { endpoint: endpointView(rows[0]), secret };
}

export async function listEndpoints(db: Queryable): Promise<EndpointView[]> {
  const rows = await db.query<EndpointRow>(`SELECT ${VIEW_COLUMNS} FROM endpoints ORDER BY name`);
  return rows.map(endpointView);
}

export async function getEndpoint(db: Queryable, id: string): Promise<EndpointView> {
  const rows = await db.query<EndpointRow>(`SELECT ${VIEW_COLUMNS} FROM endpoints WHERE id = $1`, [parseEndpointId(id)]);
  if (!rows[0]) throw new AppError("not_found", `endpoint ${id} does not exist`);
  return endpointView(rows[0]);
}

/** Why an endpoint was disabled by hand, by where it was done. */
export const DISABLED_BY_API = "disabled by API";
export const DISABLED_FROM_DASHBOARD = "disabled from the dashboard";

/**
 * Changes the URL, disables or re-enables (which also clears the failure streak that may have
 * disabled it), or rotates the secret. The new secret is returned only when rotated.
 * `disabledReason` records who disabled it (the API unless the dashboard says otherwise).
 */
export async function updateEndpoint(
  db: Queryable,
  id: string,
  input: unknown,
  { disabledReason = DISABLED_BY_API }: { disabledReason?: string } = {},
): Promise<{ endpoint: EndpointView; secret?: string }> {
  const endpointId = parseEndpointId(id);
  const request = parseOrThrow(updateEndpointSchema, input);
  const url = request.url === undefined ? null : await checkedUrl(request.url);
  const secret = request.rotateSecret ? generateWebhookSecret() : null;

  // One statement: a new default filter also makes the endpoint's settled, undelivered subscriptions
  // without a filter of their own active again from now, so the reconciler's look-back (by
  // activated_at) finds those the new filter lets through.
  const rows = await db.query<EndpointRow>(
    `WITH reactivated AS (
       UPDATE subscriptions s SET activated_at = $9
       FROM jobs j
       WHERE $7::boolean AND s.endpoint_id = $1 AND s.events IS NULL AND s.disabled_at IS NULL
         AND j.id = s.job_id AND j.settled_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.topic IS NULL)
     )
     UPDATE endpoints SET
       url = COALESCE($2, url),
       disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at
                          WHEN $3 THEN COALESCE(disabled_at, now()) ELSE NULL END,
       disabled_reason = CASE WHEN $3::boolean IS NULL THEN disabled_reason
                              WHEN $3 THEN COALESCE(disabled_reason, $6) ELSE NULL END,
       consecutive_failures = CASE WHEN $3::boolean IS FALSE THEN 0 ELSE consecutive_failures END,
       first_failure_at = CASE WHEN $3::boolean IS FALSE THEN NULL ELSE first_failure_at END,
       previous_secret_encrypted = CASE WHEN $4::text IS NULL THEN previous_secret_encrypted ELSE secret_encrypted END,
       previous_secret_expires_at = CASE WHEN $4::text IS NULL THEN previous_secret_expires_at
                                         ELSE now() + make_interval(hours => $5) END,
       secret_encrypted = COALESCE($4, secret_encrypted),
       events = CASE WHEN $7::boolean THEN $8::text[] ELSE events END,
       updated_at = now()
     WHERE id = $1 RETURNING ${VIEW_COLUMNS}`,
    [
      endpointId,
      url,
      request.disabled ?? null,
      secret === null ? null : encryptSecret(secret),
      PREVIOUS_SECRET_VALIDITY_HOURS,
      disabledReason,
      request.events !== undefined,
      request.events ?? null,
      nowDate(),
    ],
  );
  if (!rows[0]) throw new AppError("not_found", `endpoint ${id} does not exist`);
  return { endpoint: endpointView(rows[0]), ...(secret === null ? {} : { secret }) };
}

/** Deletes an endpoint; its subscriptions and deliveries go with it (ON DELETE CASCADE). */
export async function deleteEndpoint(db: Queryable, id: string): Promise<void> {
  const rows = await db.query<{ id: string }>("DELETE FROM endpoints WHERE id = $1 RETURNING id", [parseEndpointId(id)]);
  if (!rows[0]) throw new AppError("not_found", `endpoint ${id} does not exist`);
}
