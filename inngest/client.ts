import { Inngest } from "inngest";

/**
 * The Inngest client. Dev mode is opt-in (`INNGEST_DEV=1`, which `npm run dev` sets); otherwise it
 * talks to Inngest Cloud with `INNGEST_EVENT_KEY` and verifies calls with `INNGEST_SIGNING_KEY`.
 */
export const inngest = new Inngest({
  id: "batchwatch",
  // The SDK copies the environment once at construction; reading INNGEST_BASE_URL on every use lets
  // a self-hosted server (or the tests' stand-in event API) be set without re-importing the client.
  get baseUrl() {
    return process.env.INNGEST_BASE_URL || undefined;
  },
});
