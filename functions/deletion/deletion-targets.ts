/**
 * The two one-shot schedule targets of a soft delete (hard-delete-definition.ts): the deadline, which starts
 * the hard delete, and the enforcement check just after the window closes, which starts it if it has not run.
 * Both are idempotent (EventBridge Scheduler delivers at least once: the same firing gets the same execution
 * name) and drop a malformed event after logging it: a payload that cannot be read will never succeed, and
 * throwing would only retry it into the dead-letter queue.
 */
import * as clock from '../shared/clock';
import * as z from 'zod';
import { canTransition } from '../lifecycle/transition';
import type { ScheduledEvent } from '../scheduler/scheduler-port';
import { logger } from '../shared/powertools';
import { TENANT_ID_PATTERN } from '../tenants/tenant-schemas';
import type { WorkflowPorts } from '../workflows/ports';
import { enforcementCheckAt, windowPosition } from './deletion-policy';
import { rearmEnforcementCheck } from './deletion-schedules';
import { startHardDelete } from './start-hard-delete';

/** What the targets use of the workflow ports. */
export type DeletionTargetDependencies = Pick<WorkflowPorts, 'tenants' | 'scheduler' | 'runner' | 'now'>;

/** An enforcement check that finds a hard delete running looks again this much later (seconds). */
export const ENFORCEMENT_RECHECK_SECONDS = 30 * 60;

/** The event a deletion schedule delivers (scheduler-port.ts ScheduledEvent, payload of deletion-schedules.ts). */
const deletionEventSchema = z.object({
  scheduledAt: z.iso.datetime(),
  payload: z.object({ tenantId: z.string().regex(TENANT_ID_PATTERN), deletionRequestedAt: z.iso.datetime() }),
});

export interface DeletionFiring {
  readonly tenantId: string;
  readonly deletionRequestedAt: string;
  readonly scheduledAt: Date;
}

/** The firing `event` describes, or undefined (logged as an error) when it is malformed. */
export function parseDeletionEvent(event: unknown, target: string): DeletionFiring | undefined {
  const parsed = deletionEventSchema.safeParse(event);
  if (!parsed.success) {
    logger.error(`Dropped a malformed '${target}' event: it can never succeed, so it is not retried`, { event: event as Record<string, unknown>, issues: z.prettifyError(parsed.error) });
    return undefined;
  }
  return { ...parsed.data.payload, scheduledAt: new Date(parsed.data.scheduledAt) };
}

/** What a deadline firing did: `started` the hard delete (or found it started), or dropped a `malformed` event. */
export interface DeadlineResult {
  readonly outcome: 'started' | 'malformed';
  readonly operationId?: string;
}

/**
 * The deadline target: start the hard delete for this firing (trigger `deadline`); its first step decides
 * whether it may run. Throws the runner's error (the delivery is retried, then the sweeper catches it).
 */
export async function onDeadline(deps: DeletionTargetDependencies, event: ScheduledEvent): Promise<DeadlineResult> {
  const firing = parseDeletionEvent(event, 'hard-delete.deadline');
  if (!firing) return { outcome: 'malformed' };
  const input = await startHardDelete(deps, { ...firing, trigger: 'deadline' });
  return { outcome: 'started', operationId: input.operationId };
}

/**
 * What an enforcement check did: `started` a hard delete (the window has closed), `rearmed` itself (a hard
 * delete still running, or the window not closed yet), or nothing: `not_deleting` (cancelled, deleted, another
 * soft delete, or no such tenant), `held` (a legal hold: its release starts the hard delete), `malformed`.
 */
export interface EnforcementResult {
  readonly outcome: 'started' | 'rearmed' | 'not_deleting' | 'held' | 'malformed';
  readonly operationId?: string;
  readonly rearmedAt?: string;
}

/**
 * The enforcement check target. Past the window's close, with the tenant still `deleting` by this soft delete
 * and no hard delete running, the hard delete is late: start it (trigger `enforcement-check`; its first step
 * records the violation). A running hard delete, or a delivery that came before the window closed, re-arms the
 * check. Throws the scheduler's or runner's error (the delivery is retried).
 */
export async function onEnforcementCheck(deps: DeletionTargetDependencies, event: ScheduledEvent): Promise<EnforcementResult> {
  const firing = parseDeletionEvent(event, 'hard-delete.enforcement');
  if (!firing) return { outcome: 'malformed' };
  const now = clock.nowOf(deps);
  const tenant = await deps.tenants.find(firing.tenantId);
  const deletion = tenant?.deletion;
  // Still soft-deleted: the state a hard delete completes (the lifecycle table's complete_deletion).
  if (!tenant || !canTransition(tenant.state, 'complete_deletion') || !deletion || deletion.requestedAt !== firing.deletionRequestedAt) return { outcome: 'not_deleting' };
  if (tenant.legalHold) return { outcome: 'held' };
  const rearm = async (at: Date): Promise<EnforcementResult> => {
    await rearmEnforcementCheck(deps.scheduler, tenant.tenantId, deletion, at);
    return { outcome: 'rearmed', rearmedAt: at.toISOString() };
  };
  if (tenant.operationId) return rearm(new Date(now.getTime() + ENFORCEMENT_RECHECK_SECONDS * 1000));
  if (windowPosition(deletion, now).position !== 'late') return rearm(enforcementCheckAt(deletion));
  const input = await startHardDelete(deps, { ...firing, trigger: 'enforcement-check' });
  return { outcome: 'started', operationId: input.operationId };
}
