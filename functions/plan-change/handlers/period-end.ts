/**
 * The target of a scheduled plan change's one-shot schedule (EventBridge Scheduler on AWS, the local
 * scheduler locally): at the end of the billing period, start the downgrade if it is still wanted and fits.
 * Idempotent: the scheduler delivers at least once.
 */
import type { ScheduledEvent } from '../../scheduler/scheduler-port';
import { logger } from '../../shared/powertools';
import { planChangeDependencies } from '../plan-change-deps';
import { startScheduledPlanChange, type PeriodEndResult } from '../scheduled-plan-change';

export const handler = async (event: ScheduledEvent): Promise<PeriodEndResult> => {
  const operationId = event?.payload?.operationId;
  if (typeof operationId !== 'string') {
    // A malformed event will never succeed: fail loudly (the invocation error is alarmed), no retry helps.
    throw new TypeError(`Scheduled plan-change event without an operationId: ${JSON.stringify(event)}`);
  }
  logger.appendKeys({ operationId, schedule: event.schedule });
  const result = await startScheduledPlanChange(planChangeDependencies(), operationId);
  logger.info('Scheduled plan change handled', { ...result, scheduledAt: event.scheduledAt });
  return result;
};
