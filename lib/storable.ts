import { z } from "zod";

/**
 * What Postgres can store: its `text` and `jsonb` refuse the NUL character (`\u0000`), and a lone
 * UTF-16 surrogate cannot be written as UTF-8 at all. Input that carries either is refused at the
 * boundary with a 400 (the zod pieces below), except where it must be kept — a provider's signed
 * webhook — which is stored with each offending character replaced ({@link toStorableJson}).
 * JSON is walked without recursion, so no nesting depth can overflow the stack.
 */

/** How deeply JSON from a caller may nest (metadata, bodies); deeper is refused. */
export const MAX_JSON_DEPTH = 32;

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSTORABLE_GLOBAL = new RegExp(UNSTORABLE.source, "g");

export const UNSTORABLE_TEXT_MESSAGE = "must not contain NUL characters or unpaired UTF-16 surrogates";

/** True when `text` has no NUL and no unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** A string field that Postgres can store (see the module comment). */
export function storableString() {
  return z.string().refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
}

interface Problem {
  path: (string | number)[];
  message: string;
}

/** The first key or string in `value` that cannot be stored, or nesting deeper than `maxDepth`. */
export function findUnstorable(value: unknown, maxDepth = MAX_JSON_DEPTH): Problem | null {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === "string") {
      if (!isStorableText(current)) return { path, message: UNSTORABLE_TEXT_MESSAGE };
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (path.length >= maxDepth) return { path, message: `must not nest more than ${maxDepth} levels deep` };
    if (Array.isArray(current)) {
      current.forEach((item, index) => stack.push({ value: item, path: [...path, index] }));
      continue;
    }
    for (const [key, item] of Object.entries(current)) {
      if (!isStorableText(key)) return { path: [...path, key], message: `keys ${UNSTORABLE_TEXT_MESSAGE}` };
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return null;
}

/** Any JSON value Postgres can store, nested at most {@link MAX_JSON_DEPTH} levels. */
export function storableJson<Schema extends z.ZodType>(schema: Schema, maxDepth = MAX_JSON_DEPTH) {
  return schema.superRefine((value, ctx) => {
    const problem = findUnstorable(value, maxDepth);
    if (problem) ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  });
}

/** The text with every NUL and unpaired surrogate replaced by U+FFFD. */
export function toStorableText(text: string): string {
  return text.replace(UNSTORABLE_GLOBAL, "\uFFFD");
}

const TOO_DEEP = "[nested too deeply to store]";

/**
 * A copy of parsed JSON that Postgres can store: keys and strings through {@link toStorableText},
 * anything nested deeper than `maxDepth` replaced by a marker string. For data that must be kept
 * as received (a provider's signed webhook) even when it carries such characters.
 */
export function toStorableJson(value: unknown, maxDepth = 64): unknown {
  const root: { value: unknown } = { value: undefined };
  const stack: { source: unknown; assign: (copy: unknown) => void; depth: number }[] = [
    { source: value, assign: (copy) => (root.value = copy), depth: 0 },
  ];
  while (stack.length > 0) {
    const { source, assign, depth } = stack.pop()!;
    if (typeof source === "string") {
      assign(toStorableText(source));
    } else if (typeof source !== "object" || source === null) {
      assign(source);
    } else if (depth >= maxDepth) {
      assign(TOO_DEEP);
    } else if (Array.isArray(source)) {
      const copy: unknown[] = new Array(source.length);
      assign(copy);
      source.forEach((item, index) => stack.push({ source: item, assign: (c) => (copy[index] = c), depth: depth + 1 }));
    } else {
      const copy: Record<string, unknown> = {};
      assign(copy);
      for (const [key, item] of Object.entries(source)) {
        const storableKey = toStorableText(key);
        stack.push({ source: item, assign: (c) => (copy[storableKey] = c), depth: depth + 1 });
      }
    }
  }
  return root.value;
}

/** The earliest date a caller may give (`since`): nothing batchwatch stores is older. */
export const EARLIEST_DATE = new Date(Date.UTC(1970, 0, 1));

/** True for a real date from 1970 to 9999 (Postgres refuses year 0, which `new Date` accepts). */
export function isStorableDate(date: Date): boolean {
  const time = date.getTime();
  return !Number.isNaN(time) && time >= EARLIEST_DATE.getTime() && date.getUTCFullYear() <= 9999;
}
