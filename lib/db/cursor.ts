import { AppError } from "@/lib/errors";

/**
 * Keyset pagination cursors: `[sort key as Postgres text, id]`, base64url JSON, opaque to callers.
 * The timestamp stays Postgres text because a JS Date would drop its microseconds, and a cursor
 * that is not one of ours (or names a row id of the wrong shape) is an `invalid_request`.
 */

// Only the timestamp text Postgres writes, never anything Date.parse would accept.
const POSTGRES_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(?:([+-])(\d{2})(?::?(\d{2}))?|Z)?$/;

/**
 * True for timestamp text Postgres writes and would read back: the shape above, and a date and time
 * that exist (no month 13, no February 30, no year 0, no hour 24, an offset within ±15:59).
 */
export function isPostgresTimestamp(text: string): boolean {
  const match = POSTGRES_TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  // Day 0 of the next month is the last day of this one (UTC, so no time zone shifts it).
  const lastDay = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeapYear(year) ? 1 : 0);
  if (day > lastDay) return false;
  return match[9] === undefined || (Number(match[9]) <= 15 && Number(match[10] ?? 0) <= 59);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

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
      isPostgresTimestamp(value[0]) &&
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
