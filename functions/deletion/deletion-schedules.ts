/**
 * A soft-deleted tenant's two one-shot schedules (DESIGN.md "Scheduler"): the hard delete at the deadline and
 * the enforcement check just after the enforcement window closes, through the scheduler port (EventBridge
 * Scheduler on AWS, the local scheduler in the embedded stack). Names are deterministic per tenant
 * (deletion-policy.ts), so arming twice makes the same two schedules, and cancelling is idempotent.
 *
 * Payloads carry ids only: the tenant and the soft delete's `requestedAt`, so a firing that belongs to an
 * earlier soft delete (cancelled, then deleted again) is told apart by its target.
 */
import type { SchedulerPort } from '../scheduler/scheduler-port';
import { DEADLINE_TARGET, ENFORCEMENT_TARGET } from './hard-delete-definition';
import { enforcementCheckAt, type DeletionSchedule } from './deletion-policy';

/** What the schedules deliver in their payload. */
export interface DeletionSchedulePayload {
  readonly tenantId: string;
  /** The soft delete's `requestedAt` (ISO 8601): which soft delete this firing belongs to. */
  readonly deletionRequestedAt: string;
}

/**
 * Make (or re-make) both schedules of `deletion`: the hard delete at `hardDeleteAt` (default: the deadline;
 * a re-arm passes the window's opening, or a later time for a legal hold) and the enforcement check after the
 * window. Throws what the scheduler throws (SchedulerTransientError: retry).
 */
export async function armDeletionSchedules(scheduler: SchedulerPort, tenantId: string, deletion: DeletionSchedule, hardDeleteAt: Date = new Date(deletion.deadline)): Promise<void> {
  const payload = { tenantId, deletionRequestedAt: deletion.requestedAt } satisfies DeletionSchedulePayload;
  await Promise.all([
    scheduler.scheduleOnce({ name: deletion.schedules.hardDelete, at: hardDeleteAt, target: DEADLINE_TARGET, payload }),
    scheduler.scheduleOnce({ name: deletion.schedules.enforcement, at: enforcementCheckAt(deletion), target: ENFORCEMENT_TARGET, payload }),
  ]);
}

/** Re-arm only the hard delete, at `at` (a firing that came early, or a legal hold that is checked again later). */
export async function rearmHardDelete(scheduler: SchedulerPort, tenantId: string, deletion: DeletionSchedule, at: Date): Promise<void> {
  const payload = { tenantId, deletionRequestedAt: deletion.requestedAt } satisfies DeletionSchedulePayload;
  await scheduler.scheduleOnce({ name: deletion.schedules.hardDelete, at, target: DEADLINE_TARGET, payload });
}

/**
 * Re-arm only the enforcement check, at `at` (its delivery found a hard delete still running, or came before the
 * window closed; the deletion sweeper recreating a lost one).
 */
export async function rearmEnforcementCheck(scheduler: SchedulerPort, tenantId: string, deletion: DeletionSchedule, at: Date): Promise<void> {
  const payload = { tenantId, deletionRequestedAt: deletion.requestedAt } satisfies DeletionSchedulePayload;
  await scheduler.scheduleOnce({ name: deletion.schedules.enforcement, at, target: ENFORCEMENT_TARGET, payload });
}

/** Delete both schedules (cancelled soft delete); ones already gone are fine. */
export async function cancelDeletionSchedules(scheduler: SchedulerPort, deletion: Pick<DeletionSchedule, 'schedules'>): Promise<void> {
  await Promise.all([scheduler.cancel(deletion.schedules.hardDelete), scheduler.cancel(deletion.schedules.enforcement)]);
}
