import { AppError } from "@/lib/errors";

const SEND_TIMEOUT_MS = 5_000;

export const INNGEST_UNAVAILABLE_ADVICE =
  "the Inngest event API could not be reached: run `npm run dev` (it starts the Inngest dev server), " +
  "or set INNGEST_EVENT_KEY for Inngest Cloud";

/**
 * Sends events through `send`, bounded in time, so a route never hangs on an unreachable Inngest:
 * any failure becomes `inngest_unavailable` (503) with advice on what to run.
 */
export async function sendOrUnavailable<T>(send: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${SEND_TIMEOUT_MS} ms`)), SEND_TIMEOUT_MS);
  });
  try {
    return await Promise.race([send(), timeout]);
  } catch (error) {
    console.error("[batchwatch] sending to Inngest failed:", error instanceof Error ? error.message : error);
    throw new AppError("inngest_unavailable", INNGEST_UNAVAILABLE_ADVICE, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
