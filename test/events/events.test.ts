import { describe, expect, test } from "vitest";
import { batchSettled, batchTracked, deliveryRequested, signalReceived, watchRequested } from "@/inngest/events";
import {
  batchSettledEvent,
  batchTrackedEvent,
  deliveryRequestedEvent,
  signalReceivedEvent,
  watchRequestedEvent,
} from "@/lib/events/definitions";

describe("batch/tracked", () => {
  test("accepts what a user's app sends, with kind defaulting later to batch", async () => {
    const event = batchTracked.create({ provider: "openai", batchId: "batch_abc", webhookUrl: "https://acme.com/hooks" });
    await expect(event.validate()).resolves.toBeUndefined();
  });

  test.each([
    ["an unknown provider", { provider: "watson", batchId: "b1", webhookUrl: "https://a.example/h" }, /provider/],
    ["an empty batch id", { provider: "openai", batchId: "", webhookUrl: "https://a.example/h" }, /batchId/],
    ["a webhook URL that is not a URL", { provider: "openai", batchId: "b1", webhookUrl: "not a url" }, /webhookUrl/],
    ["both a URL and an endpoint", { provider: "openai", batchId: "b1", webhookUrl: "https://a.example/h", endpoint: "prod" }, /endpoint/],
    ["an unknown kind", { provider: "openai", batchId: "b1", kind: "video", webhookUrl: "https://a.example/h" }, /kind/],
    ["a field it does not know (a secret, say)", { provider: "openai", batchId: "b1", webhookUrl: "https://a.example/h", secret: "whsec_x" }, /secret/],
    ["metadata that is not an object", { provider: "openai", batchId: "b1", webhookUrl: "https://a.example/h", metadata: "x" }, /metadata/],
  ])("rejects %s with an error naming the field", async (_, data, field) => {
    const event = batchTracked.create(data as never);
    await expect(event.validate()).rejects.toThrow(field);
  });
});

describe("internal events", () => {
  test.each([
    ["batch/watch.requested", () => watchRequested.create({ jobId: "nope", provider: "openai", generation: 1, continuation: 0 })],
    ["batch/signal.received", () => signalReceived.create({ source: "azure" as never, provider: "openai", kind: "batch", batchId: "b", inboundEventId: 1, eventType: "batch.completed" })],
    ["batch/settled", () => batchSettled.create({ jobId: "00000000-0000-4000-8000-000000000000", provider: "openai", kind: "batch", batchId: "b", outcome: "done" as never, status: "completed", reason: null, type: "batch.completed" })],
    ["delivery/requested", () => deliveryRequested.create({ deliveryId: "", cause: "settled" })],
  ])("%s rejects malformed data", async (_, create) => {
    await expect(create().validate()).rejects.toThrow();
  });
});

describe("the builders own each event's id", () => {
  const JOB = "00000000-0000-4000-8000-000000000001";
  const signal = { source: "openai", provider: "openai", kind: "batch", batchId: "batch_1", inboundEventId: 7, eventType: "batch.completed" } as const;

  test.each([
    ["batch/tracked", () => batchTrackedEvent({ provider: "openai", batchId: "b", webhookUrl: "https://a.example/h", subscriptionId: JOB }, { reactivated: false }), `tracked:${JOB}`],
    ["batch/tracked, re-enabled", () => batchTrackedEvent({ provider: "openai", batchId: "b", webhookUrl: "https://a.example/h", subscriptionId: JOB }, { reactivated: true }), new RegExp(`^tracked:${JOB}:[0-9a-f-]{36}$`)],
    ["batch/watch.requested", () => watchRequestedEvent({ jobId: JOB, provider: "openai", generation: 2, continuation: 3 }), `watch:${JOB}:2:3`],
    ["batch/signal.received", () => signalReceivedEvent(signal), "signal:7"],
    ["batch/signal.received, replayed at tracking", () => signalReceivedEvent(signal, { replayForJob: JOB }), `signal:7:${JOB}`],
    ["batch/settled", () => batchSettledEvent({ jobId: JOB, provider: "openai", kind: "batch", batchId: "b", outcome: "completed", status: "completed", reason: null, type: "batch.completed" }), `settled:${JOB}`],
    ["delivery/requested", () => deliveryRequestedEvent("msg_1", "settled"), "deliver:msg_1"],
    ["delivery/requested, late subscriber", () => deliveryRequestedEvent("msg_1", "subscribed_after_settlement"), "deliver:msg_1"],
    ["delivery/requested, resend", () => deliveryRequestedEvent("msg_1", "resend"), /^resend:msg_1:[0-9a-f-]{36}$/],
    ["delivery/requested, recover", () => deliveryRequestedEvent("msg_1", "recover", { recoverId: "r1" }), "recover:msg_1:r1"],
  ])("%s", (_, build, id) => {
    const event = build();
    if (typeof id === "string") expect(event.id).toBe(id);
    else expect(event.id).toMatch(id);
  });

  test("two resends of one delivery get different ids (Inngest would drop a repeat)", () => {
    expect(deliveryRequestedEvent("msg_1", "resend").id).not.toBe(deliveryRequestedEvent("msg_1", "resend").id);
  });

  test.each([
    ["batch/watch.requested", () => watchRequestedEvent({ jobId: "nope", provider: "openai", generation: 1, continuation: 0 })],
    ["batch/signal.received", () => signalReceivedEvent({ ...signal, inboundEventId: 0 })],
    ["batch/settled", () => batchSettledEvent({ jobId: JOB, provider: "openai", kind: "batch", batchId: "b", outcome: "done" as never, status: "completed", reason: null, type: "t" })],
    ["delivery/requested", () => deliveryRequestedEvent("", "settled")],
  ])("%s refuses data its function would refuse, before anything is sent", (name, build) => {
    expect(build).toThrow(`invalid ${name} event`);
  });
});
