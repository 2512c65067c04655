import { serve } from "inngest/next";
import type { NextRequest } from "next/server";
import { inngest } from "@/inngest/client";
import { functions } from "@/inngest/functions";
import { route } from "@/lib/http";
import { inngestServeOrigin, refuseUnsafeRegistration } from "@/lib/ops/serve-origin";

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

// The URL Inngest Cloud registers never comes from the request's Host (lib/ops/serve-origin.ts).
const handlers = serve({ client: inngest, functions, serveOrigin: inngestServeOrigin() });

export const { GET, POST } = handlers;

/** Registration: refused when it would take this app's URL from the request (cloud mode only). */
export const PUT = route<unknown>(
  async (request, context) =>
    refuseUnsafeRegistration(request) ?? (handlers.PUT as (request: NextRequest, context: unknown) => Promise<Response>)(request as NextRequest, context),
);
