import { Inngest } from "inngest";

/**
 * The Inngest client. Dev mode is opt-in (`INNGEST_DEV=1`, which `npm run dev` sets); otherwise it
 * talks to Inngest Cloud with `INNGEST_EVENT_KEY` and verifies calls with `INNGEST_SIGNING_KEY`.
 */
export const inngest = new Inngest({ id: "batchwatch" });
