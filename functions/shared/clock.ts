/**
 * The current time of every lifecycle decision: when a change is requested, when a billing period ends, when a
 * schedule is due, a lease or an export expires, an operation is stuck. Every store, adapter and step that
 * takes an injectable `now` defaults to `now()` here.
 *
 * Deployed functions read the wall clock: nothing in them can set another. The local stack alone may install a
 * clock that an operator moves (`npm start -- --clock=simulated`, infra/local/local-clock.ts), so a period-end
 * downgrade or a deletion deadline can be reached in a minute. The installed clock sits in a global slot that
 * only infra/local/ writes; no deployed bundle holds that code (test/infra/bundling.test.ts checks every one).
 *
 * Not for durations (request latency, a Lambda's time budget, backoff): those measure the wall clock, which an
 * operator's advance must not stretch or cut.
 */

/** Tells the time. */
export interface ClockSource {
  now(): Date;
}

/** The global slot the local stack's clock is installed in (infra/local/local-clock.ts); read only here. */
export const LOCAL_CLOCK_SLOT: unique symbol = Symbol.for('tenant-lifecycle.local-clock');

type Slot = { [LOCAL_CLOCK_SLOT]?: ClockSource };

/** The current time: the local stack's clock when it installed one, else the wall clock (always, when deployed). */
export function now(): Date {
  const installed = (globalThis as Slot)[LOCAL_CLOCK_SLOT];
  // eslint-disable-next-line no-restricted-syntax -- the one reader of the wall clock
  return installed ? installed.now() : new Date();
}

/** The time `source` was given (an injected `now`, as stores and steps take one for tests), else now(). */
export function nowOf(source: { readonly now?: () => Date }): Date {
  return source.now?.() ?? now();
}
