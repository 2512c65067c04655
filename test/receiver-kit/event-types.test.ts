import { expectTypeOf, test } from "vitest";
import type {
  BatchResumedEvent as AppResumed,
  BatchStalledEvent as AppStalled,
  GroupSettledEvent as AppGroupSettled,
  JobEventType as AppJobEventType,
  UnifiedWebhookEvent,
  WebhookTestEvent,
} from "@/lib/deliver/unified-event";
import type { RequestCounts } from "@/lib/providers/types";
import type {
  BatchResumedEvent,
  BatchStalledEvent,
  BatchWebhookEvent,
  GroupSettledEvent,
  JobEventType,
  JobFinishedEvent,
  WebhookTestEvent as KitWebhookTestEvent,
} from "@/receiver-kit/verify-batch-webhook";

/**
 * The receiver kit is a copy-me file with its own event types, deliberately looser than the app's
 * (plain strings, and request counts open to new ones, so a newer batchwatch stays readable).
 * These assertions are checked by the type checker (`npx tsc --noEmit`, a CI step): a field
 * added to, renamed in or dropped from the app's delivered event, or a new event type the kit's
 * union would not accept, fails the type check until the kit follows.
 */

// The app's counts as a plain object type: an interface has no implicit index signature, and the
// kit's RequestCounts declares one to stay open to counts a newer batchwatch may add.
type AppEvent = Omit<UnifiedWebhookEvent, "requestCounts"> & { requestCounts: { [K in keyof RequestCounts]: RequestCounts[K] } | null };

test("every event the app delivers reads as the kit's event", () => {
  expectTypeOf<AppEvent>().toExtend<JobFinishedEvent>();
  expectTypeOf<WebhookTestEvent>().toExtend<BatchWebhookEvent>();
});

test("the kit's events name exactly the app's fields", () => {
  expectTypeOf<keyof JobFinishedEvent>().toEqualTypeOf<keyof UnifiedWebhookEvent>();
  expectTypeOf<KitWebhookTestEvent>().toEqualTypeOf<WebhookTestEvent>();
});

test("every job event type the app sends is one the kit accepts", () => {
  expectTypeOf<AppJobEventType>().toExtend<JobEventType>();
});

// Counts as plain object types (see AppEvent above).
type Plain<T> = { [K in keyof T]: T[K] extends RequestCounts | null ? { [C in keyof RequestCounts]: RequestCounts[C] } | null : T[K] };

test("every notice the app delivers (stalled, resumed, group settled) reads as the kit's, with the same fields", () => {
  expectTypeOf<Plain<AppStalled>>().toExtend<BatchStalledEvent>();
  expectTypeOf<Plain<AppResumed>>().toExtend<BatchResumedEvent>();
  expectTypeOf<keyof BatchStalledEvent>().toEqualTypeOf<keyof AppStalled>();
  expectTypeOf<keyof BatchResumedEvent>().toEqualTypeOf<keyof AppResumed>();
  expectTypeOf<keyof GroupSettledEvent>().toEqualTypeOf<keyof AppGroupSettled>();
  expectTypeOf<BatchStalledEvent | BatchResumedEvent | GroupSettledEvent>().toExtend<BatchWebhookEvent>();
});
