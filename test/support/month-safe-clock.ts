/**
 * A test file's time, away from the end of a billing month: the wall clock, moved back two days while it is within
 * a day of the calendar month's end (UTC), installed for every part of this process (the local stack's clock slot,
 * infra/local/local-clock.ts). Tests whose expectations depend on where in the month they run (a period-end
 * downgrade not yet within its 16-minute lead, a proration above zero) failed in the last minutes of every month.
 */
import { calendarMonth } from '../../functions/billing/ledger-billing';
import { SimulatedClock, installLocalClock } from '../../infra/local/local-clock';

const DAY_MS = 24 * 3600 * 1000;

/** Install the clock (at a test file's top level); answers how to put the wall clock back. */
export function installMonthSafeClock(wall: () => number = Date.now): () => void {
  const shiftMs = calendarMonth(new Date(wall())).end.getTime() - wall() < DAY_MS ? 2 * DAY_MS : 0;
  return installLocalClock(new SimulatedClock(() => wall() - shiftMs));
}
