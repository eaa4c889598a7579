/**
 * The target of a soft-deleted tenant's hard-delete schedule (at the deadline): start the hard delete
 * (deletion-targets.ts). Idempotent: a second delivery of the same firing starts nothing new.
 */
import type { ScheduledEvent } from '../../scheduler/scheduler-port';
import { logger } from '../../shared/powertools';
import { workflowPorts } from '../../workflows/ports';
import { onDeadline, type DeadlineResult } from '../deletion-targets';

export const handler = async (event: ScheduledEvent): Promise<DeadlineResult> => {
  const result = await onDeadline(workflowPorts(), event);
  logger.info('Hard-delete deadline handled', { ...result, schedule: event?.schedule, scheduledAt: event?.scheduledAt });
  return result;
};
