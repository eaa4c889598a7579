/**
 * The deletion sweeper (hourly on AWS, periodically in the local stack): the last line of defence for a
 * soft delete's deadline. One pass pages through the `deleting` tenants and
 * (a) starts the hard delete of every tenant past its enforcement window with none running and no legal hold
 *     (trigger `sweeper`, due now; the hard delete's first step records the compliance violation). Each pass
 *     starts a new execution (its name carries the pass's time), so a hard delete that keeps failing is tried
 *     again every pass for as long as the tenant stays `deleting`: EventBridge Scheduler deletes a one-time
 *     schedule with ActionAfterCompletion DELETE after its one invocation, also when that invocation failed and
 *     went to the dead-letter queue once its retries were exhausted
 *     (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html,
 *     https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html), so no schedule
 *     is left to fire it again;
 * (b) recreates the schedules of a tenant not yet late whose hard-delete or enforcement schedule is missing
 *     (`scheduler.find`). Which tenants are checked: every one whose hard delete falls due before the pass after
 *     next (deadline within SCHEDULE_CHECK_LOOKAHEAD_SECONDS, or already inside its window with none running),
 *     so a schedule lost up to a period before its time is back before it is due; and, of the others, the
 *     slice of tenants (by a hash of the id) for this hour of the day, so each is checked once a day. With
 *     10,000 tenants in `deleting` (retention 30–90 days) that is about 10,000 / 24 ≈ 420 tenants, two
 *     GetSchedule calls each, per pass, instead of 20,000: a few seconds of EventBridge Scheduler's GetSchedule
 *     quota (1,000 requests per second in the main Regions, 250 elsewhere,
 *     https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html), with at most
 *     SCHEDULE_CHECK_CONCURRENCY calls in flight.
 * Tenants under a legal hold are left to the hold's release (which starts the hard delete), not swept.
 */
import * as clock from '../shared/clock';
import { createHash } from 'node:crypto';
import { LIFECYCLE_TABLE } from '../lifecycle/lifecycle-table';
import { mapWithConcurrency } from '../data-sources/concurrency';
import { MetricUnit, logger, publishMetrics } from '../shared/powertools';
import type { Tenant } from '../tenants/tenant-store';
import type { WorkflowPorts } from '../workflows/ports';
import { enforcementCheckAt, windowPosition, type DeletionSchedule } from './deletion-policy';
import { soonestFiring } from '../scheduler/scheduler-port';
import { armDeletionSchedules, rearmEnforcementCheck, rearmHardDelete } from './deletion-schedules';
import { startHardDelete } from './start-hard-delete';

/** What the sweeper uses of the workflow ports. */
export type DeletionSweepDependencies = Pick<WorkflowPorts, 'tenants' | 'scheduler' | 'runner' | 'now'>;

/** The state of a soft-deleted tenant, as the lifecycle table has it: where initiate_deletion leads. */
const SOFT_DELETED = LIFECYCLE_TABLE.initiate_deletion.to;
/** How often the sweeper runs on AWS (the EventBridge rule), seconds. */
export const DELETION_SWEEP_EVERY_SECONDS = 3600;
/** A tenant whose hard delete is due within this many seconds has its schedules checked on every pass: two periods. */
export const SCHEDULE_CHECK_LOOKAHEAD_SECONDS = 2 * DELETION_SWEEP_EVERY_SECONDS;
/** The other tenants are checked in this many slices, one per pass: each once a day at the hourly rate. */
export const SCHEDULE_CHECK_SLICES = 24;
/**
 * Tenants handled at once (two GetSchedule calls each): at most 8 calls in flight, which at tens of
 * milliseconds a call stays under the smallest Regions' GetSchedule quota (250 per second).
 */
export const SCHEDULE_CHECK_CONCURRENCY = 4;
/** Tenants read per page of the byState index. */
const PAGE_SIZE = 100;

/** The sweeper's metrics (namespace POWERTOOLS_METRICS_NAMESPACE), one datapoint each per pass. */
export const DELETION_SWEEP_METRICS = {
  /** Count: `deleting` tenants read. */
  examined: 'DeletionSweepExamined',
  /** Count: hard deletes started because the tenant was past its window (each is a compliance violation). */
  started: 'DeletionSweepStarted',
  /** Count: tenants whose missing schedule(s) were recreated. */
  rearmed: 'DeletionSweepRearmed',
  /** Count: tenants the pass could not handle (a scheduler or runner error); the invocation then fails. */
  failed: 'DeletionSweepFailed',
} as const;

export interface DeletionSweepResult {
  /** `deleting` tenants read. */
  readonly examined: number;
  /** Tenants whose schedules were looked up. */
  readonly schedulesChecked: number;
  /** Hard deletes started (tenant id → execution name). */
  readonly started: ReadonlyArray<{ readonly tenantId: string; readonly operationId: string }>;
  /** Tenants whose missing schedules were recreated, with which. */
  readonly rearmed: ReadonlyArray<{ readonly tenantId: string; readonly schedules: ReadonlyArray<'hardDelete' | 'enforcement'> }>;
  readonly failed: string[];
}

export interface DeletionSweepOptions {
  /** The pass's time; default deps.now(), else the wall clock. */
  readonly now?: Date;
  /** Check every tenant's schedules this pass, not only the due ones and this hour's slice (an operator's full audit). */
  readonly checkAllSchedules?: boolean;
}

/** The slice (0..SCHEDULE_CHECK_SLICES-1) `tenantId` is checked in. */
export function scheduleCheckSlice(tenantId: string): number {
  return createHash('sha256').update(tenantId).digest().readUInt32BE(0) % SCHEDULE_CHECK_SLICES;
}

/** The slice a pass at `now` checks: its hour of the day (UTC). */
function sliceAt(now: Date): number {
  return Math.floor(now.getTime() / (DELETION_SWEEP_EVERY_SECONDS * 1000)) % SCHEDULE_CHECK_SLICES;
}

type Action = { readonly kind: 'start' } | { readonly kind: 'check' } | { readonly kind: 'none' };

/** What the pass at `now` does for `tenant` (see the module comment). */
function actionFor(tenant: Tenant, deletion: DeletionSchedule, now: Date, slice: number, all: boolean): Action {
  if (tenant.legalHold || tenant.operationId) return { kind: 'none' };
  const position = windowPosition(deletion, now).position;
  if (position === 'late') return { kind: 'start' };
  const dueSoon = position === 'due' || Date.parse(deletion.window.opensAt) - now.getTime() <= SCHEDULE_CHECK_LOOKAHEAD_SECONDS * 1000;
  return dueSoon || all || scheduleCheckSlice(tenant.tenantId) === slice ? { kind: 'check' } : { kind: 'none' };
}

/** Recreate whichever of the two schedules is missing; the names recreated. */
async function recreateMissing(deps: DeletionSweepDependencies, tenant: Tenant, deletion: DeletionSchedule, now: Date): Promise<Array<'hardDelete' | 'enforcement'>> {
  const [hardDelete, enforcement] = await Promise.all([deps.scheduler.find(deletion.schedules.hardDelete), deps.scheduler.find(deletion.schedules.enforcement)]);
  // A recreated schedule whose time has passed fires as soon as a schedule can (EventBridge Scheduler wants a time to come).
  const soonest = soonestFiring(now);
  const later = (at: Date) => (at.getTime() < soonest.getTime() ? soonest : at);
  const hardDeleteAt = later(new Date(deletion.deadline));
  if (!hardDelete && !enforcement) {
    await armDeletionSchedules(deps.scheduler, tenant.tenantId, deletion, hardDeleteAt);
    return ['hardDelete', 'enforcement'];
  }
  if (!hardDelete) {
    await rearmHardDelete(deps.scheduler, tenant.tenantId, deletion, hardDeleteAt);
    return ['hardDelete'];
  }
  if (!enforcement) {
    await rearmEnforcementCheck(deps.scheduler, tenant.tenantId, deletion, later(enforcementCheckAt(deletion)));
    return ['enforcement'];
  }
  return [];
}

/**
 * One pass of the deletion sweeper over every `deleting` tenant (see the module comment). Never throws for one
 * tenant: its failure is logged and listed in `failed` (the handler then fails the invocation, which is
 * alarmed). Publishes DELETION_SWEEP_METRICS. Exported for the bench as well as the handler.
 */
export async function sweepDeletions(deps: DeletionSweepDependencies, options: DeletionSweepOptions = {}): Promise<DeletionSweepResult> {
  const now = options.now ?? clock.nowOf(deps);
  const slice = sliceAt(now);
  const started: Array<{ tenantId: string; operationId: string }> = [];
  const rearmed: Array<{ tenantId: string; schedules: Array<'hardDelete' | 'enforcement'> }> = [];
  const failed: string[] = [];
  let examined = 0;
  let schedulesChecked = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.tenants.listByState(SOFT_DELETED, { limit: PAGE_SIZE, cursor });
    cursor = page.nextCursor;
    examined += page.items.length;
    await mapWithConcurrency(page.items, SCHEDULE_CHECK_CONCURRENCY, async (tenant) => {
      const deletion = tenant.deletion;
      if (!deletion) {
        logger.error('A deleting tenant has no soft-delete record: it cannot be swept', { tenantId: tenant.tenantId });
        failed.push(tenant.tenantId);
        return;
      }
      const action = actionFor(tenant, deletion, now, slice, options.checkAllSchedules === true);
      try {
        if (action.kind === 'start') {
          const input = await startHardDelete(deps, { tenantId: tenant.tenantId, trigger: 'sweeper', scheduledAt: now, deletionRequestedAt: deletion.requestedAt });
          started.push({ tenantId: tenant.tenantId, operationId: input.operationId });
        } else if (action.kind === 'check') {
          schedulesChecked += 1;
          const schedules = await recreateMissing(deps, tenant, deletion, now);
          if (schedules.length > 0) rearmed.push({ tenantId: tenant.tenantId, schedules });
        }
      } catch (error) {
        failed.push(tenant.tenantId);
        logger.error('The deletion sweeper could not handle a tenant', { tenantId: tenant.tenantId, action: action.kind, error: error as Error });
      }
    });
  } while (cursor);
  if (started.length > 0) logger.warn('Started the hard delete of tenants past their deletion window', { started });
  if (rearmed.length > 0) logger.warn('Recreated lost deletion schedules', { rearmed });
  publishMetrics(
    [{}],
    [
      { name: DELETION_SWEEP_METRICS.examined, unit: MetricUnit.Count, value: examined },
      { name: DELETION_SWEEP_METRICS.started, unit: MetricUnit.Count, value: started.length },
      { name: DELETION_SWEEP_METRICS.rearmed, unit: MetricUnit.Count, value: rearmed.length },
      { name: DELETION_SWEEP_METRICS.failed, unit: MetricUnit.Count, value: failed.length },
    ],
  );
  return { examined, schedulesChecked, started, rearmed, failed };
}
