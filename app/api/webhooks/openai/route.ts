import { sendEvents } from "@/inngest/send";
import { getDb } from "@/lib/db";
import { route } from "@/lib/http";
import { receiveOpenAIWebhook } from "@/lib/watch/openai-webhook";

export const dynamic = "force-dynamic";

export const POST = route(async (request) => {
  const { duplicate } = await receiveOpenAIWebhook(request, await getDb(), sendEvents);
  return Response.json({ received: true, duplicate });
});
