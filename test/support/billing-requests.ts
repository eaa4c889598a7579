/** The plan-change request the billing tests send: Acme's immediate upgrade from starter to professional. */
import type { PlanChangeRequest } from '../../functions/billing/billing-port';

const ACME_ACCOUNT = { customerId: 'cus_acme', subscriptionId: 'sub_acme', subscriptionItemId: 'si_acme' } as const;

/** Acme's upgrade, starter → professional, now, under `operationId`. */
export function acmeUpgrade(operationId: string): PlanChangeRequest {
  return { operationId, tenantId: 'acme-corp', fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately', account: { ...ACME_ACCOUNT } };
}
