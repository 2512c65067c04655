import { z } from "zod";
import { ConfigError, readConfig } from "./config";
import { AppError, type ErrorCode, HTTP_STATUS_BY_CODE } from "./errors";
import { MAX_PRIVATE_BODY_BYTES } from "./limits";
import { storableJson } from "./storable";

/** The error body every route answers with: `{ "error": { "code", "message" } }`. */
export function errorResponse(code: ErrorCode, message: string, headers?: HeadersInit): Response {
  return Response.json({ error: { code, message } }, { status: HTTP_STATUS_BY_CODE[code], headers });
}

/** An {@link AppError}'s response, with `Retry-After` when it says when to come back. */
export function appErrorResponse(error: AppError): Response {
  const headers = error.retryAfterSeconds === undefined ? undefined : { "retry-after": String(error.retryAfterSeconds) };
  return errorResponse(error.code, error.message, headers);
}

type RouteHandler<Ctx> = (request: Request, context: Ctx) => Promise<Response>;

/**
 * Wraps a route handler so that an {@link AppError} becomes its JSON error response, a
 * {@link ConfigError} a `503 not_configured` saying what to set, and anything unexpected a 500 whose message reveals nothing (the details go to the server log).
 */
export function route<Ctx = unknown>(handler: RouteHandler<Ctx>): RouteHandler<Ctx> {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      if (error instanceof AppError) return appErrorResponse(error);
      // A setting this request needs is missing or wrong: the message names the variable, never its value.
      if (error instanceof ConfigError) return errorResponse("not_configured", error.message);
      console.error(`[batchwatch] ${request.method} ${new URL(request.url).pathname} failed:`, error);
      return errorResponse("internal", "internal error; see the server log");
    }
  };
}

/** Reads the raw body as text, refusing bodies over `maxBytes` before reading them whole. */
export async function readTextBody(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new AppError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new AppError("payload_too_large", `request body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Parses a JSON body and validates it; the error names the first offending field. Strings and keys
 * Postgres cannot store, and nesting deeper than MAX_JSON_DEPTH, are refused (lib/storable.ts).
 */
export async function readJsonBody<Schema extends z.ZodType>(
  request: Request,
  schema: Schema,
  maxBytes = MAX_PRIVATE_BODY_BYTES,
): Promise<z.infer<Schema>> {
  const text = await readTextBody(request, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError("invalid_json", "request body is not valid JSON");
  }
  // Checked first, without recursion, so that no schema ever walks a 5,000-deep nesting.
  parseOrThrow(storableJson(z.unknown()), value);
  return parseOrThrow(schema, value);
}

/** Validates `value`, turning the first zod issue into an `invalid_request` that names the field. */
export function parseOrThrow<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError("invalid_request", describeIssue(parsed.error.issues[0]!));
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length > 0 ? issue.path.join(".") : "body";
  return `${field}: ${issue.message}`;
}

/**
 * The host (and port) the client addressed: the `Host` header. On Vercel, whose edge terminates
 * the connection and rewrites `Host`, its `X-Forwarded-Host` instead; anywhere else that header is
 * whatever the client chose to send, so it is ignored. Falls back to the request URL's host.
 */
export function clientHost(request: { headers: { get(name: string): string | null }; url: string }): string {
  const forwarded = readConfig().onVercel ? request.headers.get("x-forwarded-host")?.split(",")[0]?.trim() : undefined;
  return forwarded || request.headers.get("host")?.trim() || new URL(request.url).host;
}
