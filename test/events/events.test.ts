import { describe, expect, test } from "vitest";
import { batchSettled, batchTracked, deliveryRequested, signalReceived, watchRequested } from "@/inngest/events";

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
