import { describe, expect, test } from "vitest";
import { POST as trackRoute } from "@/app/api/batches/route";
import { POST as openaiWebhookRoute } from "@/app/api/webhooks/openai/route";
import { generateWebhookSecret } from "@/lib/security/standard-webhooks";
import { createDurableDatabase } from "../helpers/durable";
import { withEnv } from "../helpers/env";
import { signedOpenAIWebhook } from "../helpers/fake-openai";
import { useFlow } from "../helpers/flow";

/**
 * Everything over HTTP, in one process: batches tracked through `POST /api/batches`, a native
 * OpenAI webhook through `POST /api/webhooks/openai`, the functions run by the harness, and every
 * delivery received and verified by a local receiver with the `standardwebhooks` library.
 */

const SECRET = process.env.BATCH_WEBHOOK_SECRET!;
const OPENAI_WEBHOOK_SECRET = generateWebhookSecret();
const SIM_BATCH = "sim_3m_completed_40";
const OPENAI_BATCH = "batch_e2e_0001";
const SUBSCRIBERS = 5;

const flow = useFlow({
  database: createDurableDatabase,
  setupTimeout: 120_000,
  receiver: { secret: SECRET },
  openai: true,
  per: "file",
});

type Handler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

async function call(handler: unknown, request: Request) {
  const response = await (handler as Handler)(request, { params: Promise.resolve({}) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

function trackRequest(body: unknown): Request {
  return new Request("http://batchwatch.test/api/batches", {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.BATCHWATCH_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("over HTTP", () => {
  test("5 subscribers of a simulated batch and one of an OpenAI batch settled by its webhook each get exactly one verified event", async () => {
    await withEnv({ OPENAI_WEBHOOK_SECRET }, async () => {
      for (let subscriber = 1; subscriber <= SUBSCRIBERS; subscriber++) {
        const tracked = await call(
          trackRoute,
          trackRequest({ provider: "simulated", batchId: SIM_BATCH, webhookUrl: `${flow.receiver.url}?subscriber=${subscriber}`, metadata: { subscriber } }),
        );
        expect(tracked.status).toBe(202);
      }
      flow.openai.setBatch(OPENAI_BATCH, { status: "completed", requestCounts: { total: 10, completed: 9, failed: 1 } });
      const openaiTracked = await call(
        trackRoute,
        trackRequest({ provider: "openai", batchId: OPENAI_BATCH, webhookUrl: `${flow.receiver.url}?subscriber=openai`, metadata: { subscriber: "openai" } }),
      );
      expect(openaiTracked.status).toBe(202);

      // OpenAI says the batch completed; its retry of the same event (same webhook-id) follows.
      const webhook = () =>
        signedOpenAIWebhook({
          secret: OPENAI_WEBHOOK_SECRET,
          webhookId: "wh_e2e_1",
          type: "batch.completed",
          objectId: OPENAI_BATCH,
          timestampSeconds: Math.floor(Date.now() / 1000),
        });
      const first = await call(openaiWebhookRoute, webhook());
      expect(first).toEqual({ status: 200, body: { received: true, duplicate: false } });
      const retried = await call(openaiWebhookRoute, webhook());
      expect(retried).toEqual({ status: 200, body: { received: true, duplicate: true } });

      const forged = signedOpenAIWebhook({
        secret: generateWebhookSecret(),
        webhookId: "wh_e2e_forged",
        type: "batch.completed",
        objectId: OPENAI_BATCH,
        timestampSeconds: Math.floor(Date.now() / 1000),
      });
      expect((await call(openaiWebhookRoute, forged)).status).toBe(400);

      const inbound = await flow.db.query<{ source: string; webhook_id: string; event_type: string; object_id: string; payload: Record<string, unknown> }>(
        "SELECT source, webhook_id, event_type, object_id, payload FROM inbound_events",
      );
      expect(inbound).toEqual([
        { source: "openai", webhook_id: "wh_e2e_1", event_type: "batch.completed", object_id: OPENAI_BATCH, payload: expect.objectContaining({ type: "batch.completed" }) },
      ]);
      const [{ id: inboundId }] = (await flow.db.query<{ id: string }>("SELECT id FROM inbound_events")) as [{ id: string }];
      // The retry re-sends the signal under the same event id, so Inngest runs it once.
      expect(flow.harness.named("batch/signal.received").map((event) => event.id)).toEqual([`signal:${inboundId}`]);

      await flow.harness.drain({ maxRuns: 400 });
    });

    const jobs = await flow.db.query<{ provider: string; outcome: string; settled_by: string }>(
      "SELECT provider, outcome, settled_by FROM jobs ORDER BY provider",
    );
    expect(jobs).toEqual([
      { provider: "openai", outcome: "completed", settled_by: "signal" },
      { provider: "simulated", outcome: "completed", settled_by: "poll" },
    ]);
    const [applied] = await flow.db.query<{ applied_at: Date | null }>("SELECT applied_at FROM inbound_events");
    expect(applied!.applied_at).toBeInstanceOf(Date);
    expect(flow.openai.requests.some((request) => request.startsWith(`GET /v1/batches/${OPENAI_BATCH}`))).toBe(true);
    expect(flow.harness.named("batch/settled")).toHaveLength(2);

    expect(flow.receiver.received).toHaveLength(SUBSCRIBERS + 1);
    expect(flow.receiver.received.filter((request) => request.verified === null)).toEqual([]);
    const bySubscriber = new Map<unknown, number>();
    for (const request of flow.receiver.received) {
      const subscriber = (request.verified!.metadata as { subscriber: unknown }).subscriber;
      bySubscriber.set(subscriber, (bySubscriber.get(subscriber) ?? 0) + 1);
    }
    expect(Object.fromEntries(bySubscriber)).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, openai: 1 });

    const openaiEvent = flow.receiver.received.find((request) => request.verified!.provider === "openai")!.verified!;
    expect(openaiEvent).toMatchObject({ type: "batch.completed", id: OPENAI_BATCH, status: "completed", requestCounts: { total: 10, completed: 9, failed: 1 } });
    const simEvents = flow.receiver.received.filter((request) => request.verified!.provider === "simulated").map((request) => request.verified!);
    expect(simEvents.every((event) => event.id === SIM_BATCH && event.type === "batch.completed")).toBe(true);

    const deliveries = await flow.db.query<{ id: string; status: string }>("SELECT id, status FROM deliveries");
    expect(deliveries).toHaveLength(SUBSCRIBERS + 1);
    expect(deliveries.every((delivery) => delivery.status === "delivered")).toBe(true);
    expect(new Set(flow.receiver.received.map((request) => request.headers["webhook-id"]))).toEqual(new Set(deliveries.map((delivery) => delivery.id)));
  });
});
