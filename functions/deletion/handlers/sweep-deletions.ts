/**
 * Scheduled (hourly on AWS): the deletion sweeper (functions/deletion/sweep-deletions.ts). Starts the hard
 * delete of tenants past their window and recreates lost deletion schedules.
 */
import { logger } from '../../shared/powertools';
import { workflowPorts } from '../../workflows/ports';
import { sweepDeletions, type DeletionSweepResult } from '../sweep-deletions';

export const handler = async (): Promise<DeletionSweepResult> => {
  const result = await sweepDeletions(workflowPorts());
  logger.info('Deletion sweep done', { examined: result.examined, schedulesChecked: result.schedulesChecked, started: result.started.length, rearmed: result.rearmed.length });
  // A tenant the sweep could not handle must page someone: the error fails the invocation (alarmed).
  if (result.failed.length > 0) throw new Error(`The deletion sweeper could not handle tenant(s): ${result.failed.join(', ')}`);
  return result;
};
