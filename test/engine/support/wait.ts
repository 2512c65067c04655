/**
 * Polls `check` until it returns something other than false/undefined/null, or fails after
 * `timeoutMs` saying what was awaited. An error thrown by `check` ends the wait at once.
 */
export async function waitFor<T>(
  what: string | (() => string),
  timeoutMs: number,
  check: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${typeof what === "function" ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
