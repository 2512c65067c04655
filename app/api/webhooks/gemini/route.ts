import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { route } from "@/lib/http";
import { receiveGeminiWebhook } from "@/lib/watch/gemini-webhook";

export const dynamic = "force-dynamic";

/** Public: authenticated by its Standard Webhooks signature (GEMINI_WEBHOOK_SECRET), not an API key. */
export const POST = route(async (request) => {
  const { duplicate } = await receiveGeminiWebhook(request, await getDb(), sendEvents);
  return Response.json({ received: true, duplicate });
});
