import { serve } from "inngest/next";
import { inngest } from "@/inngest/client";
import { functions } from "@/inngest/functions";

/**
 * How long Vercel lets one call of /api/inngest run, in seconds — a literal, because Next reads it
 * from the source at build time. One call runs steps until the SDK's checkpointing budget (10 s)
 * is spent, then finishes the step under way; the longest step holds one provider request
 * (BATCHWATCH_PROVIDER_TIMEOUT_MS, at most 120 s) or one delivery attempt
 * (BATCHWATCH_DELIVERY_TIMEOUT_MS, at most 60 s), plus database work and event sends.
 * test/inngest/serve-route.test.ts holds it to those maxima; 300 s is allowed on every Vercel plan
 * with Fluid compute (docs/operations.md).
 */
export const maxDuration = 300;

export const { GET, POST, PUT } = serve({ client: inngest, functions });
