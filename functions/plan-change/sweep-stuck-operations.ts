/**
 * The last line of defence against a tenant left mid-change, and against a lost schedule:
 * - operations still unfinished long after the workflow's own timeout (900 s) are compensated. That covers a
 *   crash between the initiate write and the start of the execution, a scheduling that crashed half-way, and
 *   a compensation whose retries and dead-letter handling all failed;
 * - scheduled changes overdue by more than the scheduler's delivery would ever be late are started, as their
 *   schedule would have (a schedule deleted by hand, a delivery that went to the dead-letter queue).
 */
import { logger } from '../shared/powertools';
import { reportOldestUnfinished } from '../workflows/workflow-metrics';
import { WORKFLOWS } from '../workflows/workflow-runner';
import { runPlanChangeStep, type PlanChangeInput } from './plan-change-steps';
import { startScheduledPlanChange, type ScheduledPlanChangeDependencies } from './scheduled-plan-change';

/** Past the workflow's 900 s timeout plus the timeout rule's retries. */
export const STUCK_AFTER_SECONDS = 30 * 60;
/**
 * A scheduled change this long past its start lost its schedule (the scheduler delivers within the minute);
 * with the sweep every 10 minutes it still starts before the period ends (the start leads it by 16 minutes).
 */
export const OVERDUE_AFTER_SECONDS = 5 * 60;

export interface SweepResult {
  readonly examined: number;
  readonly compensated: string[];
  /** Scheduled changes whose schedule was lost, started (or cancelled, if no longer wanted) by the sweeper. */
  readonly overdueStarted: string[];
  readonly failed: string[];
}

export interface SweepOptions {
  readonly now?: Date;
  readonly stuckAfterSeconds?: number;
  readonly overdueAfterSeconds?: number;
}

export async function sweepStuckOperations(deps: ScheduledPlanChangeDependencies, options: SweepOptions = {}): Promise<SweepResult> {
  const now = options.now ?? new Date();
  const stuckAfterSeconds = options.stuckAfterSeconds ?? STUCK_AFTER_SECONDS;
  // Before compensating: the alarm on operations older than their workflow's timeout must see the stuck ones.
  await reportOldestUnfinished(deps.operations, WORKFLOWS, now);
  const stuck = await deps.operations.unfinishedBefore(new Date(now.getTime() - stuckAfterSeconds * 1000));
  const overdue = await deps.operations.scheduledDueBefore(new Date(now.getTime() - (options.overdueAfterSeconds ?? OVERDUE_AFTER_SECONDS) * 1000));
  const compensated: string[] = [];
  const overdueStarted: string[] = [];
  const failed: string[] = [];
  for (const operation of stuck) {
    try {
      await runPlanChangeStep(deps, 'compensate', operation.input as unknown as PlanChangeInput, {
        Error: 'OperationStuck',
        Cause: `The operation was still ${operation.status} ${stuckAfterSeconds} s after it started; the sweeper rolled it back.`,
      });
      compensated.push(operation.operationId);
    } catch (error) {
      failed.push(operation.operationId);
      logger.error('Sweeper could not compensate a stuck operation', { operationId: operation.operationId, tenantId: operation.tenantId, error });
    }
  }
  for (const operation of overdue) {
    try {
      const result = await startScheduledPlanChange(deps, operation.operationId);
      logger.warn('Started a scheduled plan change whose schedule was lost', { ...result, effectiveAt: operation.effectiveAt });
      overdueStarted.push(operation.operationId);
    } catch (error) {
      failed.push(operation.operationId);
      logger.error('Sweeper could not start an overdue scheduled plan change', { operationId: operation.operationId, tenantId: operation.tenantId, error });
    }
  }
  if (stuck.length + overdue.length > 0) logger.warn('Swept operations', { examined: stuck.length + overdue.length, compensated, overdueStarted, failed });
  return { examined: stuck.length + overdue.length, compensated, overdueStarted, failed };
}
