/**
 * The dunning ladder's timer (schedule target `dunning.timer`): a tenant's rung fell due (its grace period ended,
 * its soft delete after a canceled subscription is due, or it was busy and is looked at again). Re-reads the tenant
 * and the subscription and applies the ladder through the same path as Stripe events (applyBillingFact), so it acts
 * only if the rung is still due: a late, early or duplicate firing changes nothing (an early one re-arms).
 */
import { findTenantBySubscription } from '../../billing/subscription-links';
import type { ScheduledEvent } from '../../scheduler/scheduler-port';
import { logger } from '../../shared/powertools';
import { applyBillingFact, dunningDependencies, type DunningDependencies, type StripeEventOutcome } from '../stripe-event-processor';

export async function fireDunningTimer(event: ScheduledEvent, deps: DunningDependencies = dunningDependencies()): Promise<StripeEventOutcome> {
  const { tenantId, subscriptionId } = event.payload;
  if (typeof tenantId !== 'string' || typeof subscriptionId !== 'string') return { result: 'ignored', reason: `Schedule ${event.schedule} carries no tenantId and subscriptionId.` };
  const link = await findTenantBySubscription(deps.client, deps.tableName, subscriptionId);
  if (!link || link.tenantId !== tenantId) return { result: 'ignored', reason: `Subscription ${subscriptionId} is not tenant ${tenantId}'s any more.` };
  const outcome = await applyBillingFact(deps, { link, cause: { channel: 'timer' } });
  logger.info('Dunning timer handled', { schedule: event.schedule, tenantId, outcome });
  return outcome;
}

export const handler = async (event: ScheduledEvent): Promise<StripeEventOutcome> => fireDunningTimer(event);
