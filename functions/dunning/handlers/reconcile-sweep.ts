/**
 * Scheduled (daily on AWS): the reconciliation sweep (functions/dunning/reconcile.ts). A tenant it could not
 * reconcile fails the invocation, which is alarmed.
 */
import { logger } from '../../shared/powertools';
import { reconcileSubscriptions, type ReconcileReport } from '../reconcile';
import { dunningDependencies } from '../stripe-event-processor';

export const handler = async (): Promise<ReconcileReport> => {
  const report = await reconcileSubscriptions(dunningDependencies());
  logger.info('Billing reconciliation done', { checked: report.checked, changed: report.changed, errors: report.errors.length });
  if (report.errors.length > 0) throw new Error(`Billing reconciliation could not reconcile tenant(s): ${report.errors.map((error) => `${error.tenantId} (${error.message})`).join(', ')}`);
  return report;
};
