import { AppError } from "@/lib/errors";

/**
 * Keyset pagination cursors: `[sort key as Postgres text, id]`, base64url JSON, opaque to callers.
 * The timestamp stays Postgres text because a JS Date would drop its microseconds, and a cursor
 * that is not one of ours (or names a row id of the wrong shape) is an `invalid_request`.
 */

// Only the timestamp text Postgres writes, never anything Date.parse would accept.
const POSTGRES_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;

export interface KeysetCursor {
  /** The sort timestamp, as Postgres text (`column::text`). */
  at: string;
  id: string;
}

export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), "utf8").toString("base64url");
}

export function decodeCursor(text: string, idPattern: RegExp): KeysetCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      POSTGRES_TIMESTAMP.test(value[0]) &&
      typeof value[1] === "string" &&
      idPattern.test(value[1])
    ) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new AppError("invalid_request", "cursor: not a cursor returned by this API");
}
