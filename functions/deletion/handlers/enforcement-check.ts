/**
 * The target of a soft-deleted tenant's enforcement check (just after its window closes): start the hard delete
 * if it has not run, re-arm while one runs (deletion-targets.ts). Idempotent.
 */
import type { ScheduledEvent } from '../../scheduler/scheduler-port';
import { logger } from '../../shared/powertools';
import { workflowPorts } from '../../workflows/ports';
import { onEnforcementCheck, type EnforcementResult } from '../deletion-targets';

export const handler = async (event: ScheduledEvent): Promise<EnforcementResult> => {
  const result = await onEnforcementCheck(workflowPorts(), event);
  logger.info('Deletion enforcement check handled', { ...result, schedule: event?.schedule, scheduledAt: event?.scheduledAt });
  return result;
};
