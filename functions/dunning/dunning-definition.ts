/**
 * The dunning ladder as a feature of the schedule-target registry (functions/workflows/registry.ts): not a
 * workflow (no state machine), but it owns a one-shot schedule target, the ladder's timer, which the scheduler,
 * configuration, the local stack and the CDK stack all find in that registry. Data only.
 *
 * One timer per tenant (`dunning-<tenantId>`, deterministic): armed at the grace period's end, at the soft delete
 * due after a canceled subscription, or a little later for a tenant busy in a transitional state; re-armed or
 * cancelled as the ladder moves (payment recovered: cancelled). Its handler re-reads the tenant and the
 * subscription and acts only if a rung is still due, so late and duplicate firings are harmless.
 */
import { scheduleName } from '../deletion/deletion-policy';
import type { FeatureDefinition } from '../workflows/workflow-definition';

export const DUNNING_FEATURE = {
  name: 'dunning',
  title: 'dunning ladder',
  // The timer reads and writes the tenant (suspend, soft delete), re-arms or deletes its own schedule (and, for a
  // soft delete, makes the deletion schedules: `manage`), and reads the subscription (billing).
  scheduleTargets: [{ target: 'dunning.timer', entry: 'functions/dunning/handlers/dunning-timer.ts', tableAccess: 'write', scheduleAccess: 'manage' }],
  reaches: ['billing'],
} as const satisfies FeatureDefinition;

export const DUNNING_TIMER_TARGET = DUNNING_FEATURE.scheduleTargets[0].target;

/** The tenant's one dunning timer (EventBridge Scheduler's 64-character limit kept, as the deletion schedules'). */
export function dunningTimerName(tenantId: string): string {
  return scheduleName('dunning', tenantId);
}
