/**
 * The last line of defence against a tenant left mid-change: operations still unfinished long after the
 * workflow's own timeout (900 s) are compensated. That covers a crash between the initiate write and the
 * start of the execution, and a compensation whose retries and dead-letter handling all failed.
 */
import { logger } from '../shared/powertools';
import { runPlanChangeStep, type PlanChangeDependencies, type PlanChangeInput } from './plan-change-steps';

/** Past the workflow's 900 s timeout plus the timeout rule's retries. */
export const STUCK_AFTER_SECONDS = 30 * 60;

export interface SweepResult {
  readonly examined: number;
  readonly compensated: string[];
  readonly failed: string[];
}

export async function sweepStuckOperations(deps: PlanChangeDependencies, now: Date = new Date(), stuckAfterSeconds = STUCK_AFTER_SECONDS): Promise<SweepResult> {
  const stuck = await deps.operations.unfinishedBefore(new Date(now.getTime() - stuckAfterSeconds * 1000));
  const compensated: string[] = [];
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
  if (stuck.length > 0) logger.warn('Swept stuck operations', { examined: stuck.length, compensated, failed });
  return { examined: stuck.length, compensated, failed };
}
