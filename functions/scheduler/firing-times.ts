/**
 * When a schedule fires: whole seconds, and the soonest a schedule can be counted on to fire. Imports nothing, so
 * the lifecycle's policies (deletion-policy.ts) can ask it without loading the scheduler port, whose schedule
 * targets come from the workflow registry, which loads those policies (an import cycle that left the registry's
 * entries undefined at load).
 */

/** `at` without its milliseconds: schedules fire on whole seconds (EventBridge Scheduler's `at()` takes no fraction). */
export function wholeSeconds(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}

/**
 * How far ahead of now a schedule can be counted on to fire, in seconds. EventBridge Scheduler fires with 60-second
 * precision and does not document what an `at()` time in the past does (reports: refused at create, or accepted
 * and never fired), so its adapter makes such a time now + 60 s; work that is due now is therefore armed for
 * soonestFiring, the same on both adapters, and the local scheduler (whose timer ticks every second) never fires
 * it sooner than AWS would.
 */
export const MINIMUM_LEAD_SECONDS = 60;

/** The earliest time to arm work that is due at `now`: the whole second MINIMUM_LEAD_SECONDS on. */
export function soonestFiring(now: Date): Date {
  return new Date(wholeSeconds(now).getTime() + MINIMUM_LEAD_SECONDS * 1000);
}
