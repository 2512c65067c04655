import { formatWithOptions } from "node:util";
import { afterEach, beforeEach } from "vitest";

/**
 * Quiet when green, loud when not. What a test writes to the console is held back:
 * - a failing test prints all of it, after its failure;
 * - a passing test drops it, unless it logged an error or warning that is not one of the expected
 *   ones below, which fails the test (a real problem must not hide behind a green run).
 * Output outside any test (suite hooks, stray timers) is printed unless expected.
 */

/**
 * Errors and warnings that tests cause on purpose. The Inngest SDK logs every step that throws;
 * these are the errors our functions throw to ask Inngest for a retry or to give up, which the
 * retry tests provoke. Any other step error (a TypeError, a plain Error from our code) is not.
 */
const EXPECTED: RegExp[] = [
  /^Inngest step error\n(RetryAfterError|NonRetriableError|ProviderError): /,
  // The harness's own tests (test/inngest/harness.test.ts) fail steps of probe functions on purpose.
  /^Inngest step error\nProbeFailure: /,
  // The stand-in event API answering 503 to an outbox flush inside a step (inngest/send.ts).
  /^Inngest step error\nError: the Inngest event API answered 5\d\d/,
  // `sendOrUnavailable` says why it answers 503 when a test makes Inngest unreachable.
  /^\[batchwatch\] sending to Inngest failed: /,
  // The after-response dispatcher (lib/events/dispatch.ts) is one per process: an outage a test
  // provokes is reported when it starts and when the next test's send succeeds again.
  /^\[batchwatch\] sending (\d+ events )?to Inngest (failed \(they stay in the outbox|works again after)/,
  // Test databases are dropped while a pool still holds idle connections to them.
  /^\[batchwatch\] (neon|postgres) pool error: terminating connection due to administrator command/,
  // Development flags announced at start-up (the config tests check the announcement).
  /^\[batchwatch\] WARNING (BATCHWATCH_|INNGEST_DEV is on)/,
];

const LEVELS = ["log", "info", "debug", "warn", "error"] as const;
type Level = (typeof LEVELS)[number];
interface Line {
  level: Level;
  text: string;
}

const print = Object.fromEntries(LEVELS.map((level) => [level, console[level].bind(console)])) as Record<
  Level,
  (...args: unknown[]) => void
>;
const isExpected = (text: string) => EXPECTED.some((pattern) => pattern.test(text));
const isProblem = (line: Line) => (line.level === "error" || line.level === "warn") && !isExpected(line.text);

/** The current test's output, or null between tests. */
let held: Line[] | null = null;
/** The Inngest SDK logs "Inngest step error" and the error in two calls: judge them as one line. */
const STEP_ERROR_HEADER = "Inngest step error";
let stepErrorHeader = false;

for (const level of LEVELS) {
  console[level] = (...args: unknown[]) => {
    let text = formatWithOptions({ colors: false, depth: 4 }, ...args);
    if (level === "error" && text === STEP_ERROR_HEADER) {
      stepErrorHeader = true;
      return;
    }
    if (stepErrorHeader) {
      stepErrorHeader = false;
      text = `${STEP_ERROR_HEADER}\n${text}`;
    }
    if (held) held.push({ level, text });
    else if (level !== "error" && level !== "warn") return;
    else if (!isExpected(text)) print[level](text);
  };
}

beforeEach((context) => {
  const lines: Line[] = [];
  held = lines;
  context.onTestFailed(() => {
    for (const line of lines) print[line.level](line.text);
  });
});

// Registered first, so it runs after every afterEach of the test file (hooks run as a stack).
afterEach(() => {
  const lines = held ?? [];
  held = null;
  const problems = lines.filter(isProblem);
  if (problems.length > 0) {
    throw new Error(
      `unexpected console output in a passing test (expected ones are listed in test/setup/console.ts):\n` +
        problems.map((line) => `console.${line.level}: ${line.text}`).join("\n"),
    );
  }
});
