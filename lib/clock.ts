/**
 * The time source for every decision batchwatch makes (leases, deadlines, poll schedules). Tests
 * freeze or advance it; production reads the system clock.
 */
let source: () => number = () => Date.now();

export function now(): number {
  return source();
}

export function nowDate(): Date {
  return new Date(source());
}

/** Replaces the time source (tests); call with no argument to restore the system clock. */
export function setClock(next?: () => number): void {
  source = next ?? (() => Date.now());
}
