/**
 * Reconciliation: for each tenant the ladder can act on (a state from which the lifecycle table allows `suspend`
 * or `resume`) with a linked subscription, read the subscription's current status through the billing port and
 * apply the ladder through the same path as events (applyBillingFact), so an event never delivered (an endpoint
 * disabled after failures, a lost EventBridge delivery) is caught. Daily on AWS, `POST /billing/reconcile` on demand.
 * Audit items of what it changes name `billing:reconcile` as actor and start their reason with "Reconciliation".
 */
import { findTenantBySubscription } from '../billing/subscription-links';
import { TENANT_STATES, type TenantState } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';
import { applyBillingFact, type DunningDependencies } from './stripe-event-processor';

export interface ReconcileReport {
  /** Tenants whose subscription was read. */
  readonly checked: number;
  readonly changed: ReadonlyArray<{ readonly tenantId: string; readonly from: TenantState; readonly to: TenantState; readonly action: string }>;
  readonly errors: ReadonlyArray<{ readonly tenantId: string; readonly message: string }>;
}

/** The states whose tenants the ladder can move (asked of the lifecycle table). */
export function billableStates(): TenantState[] {
  return TENANT_STATES.filter((state) => canTransition(state, 'suspend') || canTransition(state, 'resume'));
}

/** Reconcile every linked subscription of a tenant in a billable state (one page of 100 tenants at a time). */
export async function reconcileSubscriptions(deps: DunningDependencies): Promise<ReconcileReport> {
  let checked = 0;
  const changed: Array<ReconcileReport['changed'][number]> = [];
  const errors: Array<ReconcileReport['errors'][number]> = [];
  // A tenant the sweep moves (active → suspended) shows up again under its new state: reconciled once per run.
  const seen = new Set<string>();
  for (const state of billableStates()) {
    let cursor: string | undefined;
    do {
      const page = await deps.ports.tenants.listByState(state, { limit: 100, ...(cursor ? { cursor } : {}) });
      for (const tenant of page.items) {
        if (!tenant.billing || seen.has(tenant.tenantId)) continue;
        seen.add(tenant.tenantId);
        try {
          const link = await findTenantBySubscription(deps.client, deps.tableName, tenant.billing.subscriptionId);
          if (link?.tenantId !== tenant.tenantId) continue; // not linked (billed before links existed, or another tenant's)
          checked += 1;
          const outcome = await applyBillingFact(deps, { link, cause: { channel: 'reconcile' } });
          if (outcome.result === 'applied') changed.push({ tenantId: tenant.tenantId, from: outcome.from ?? tenant.state, to: outcome.to ?? tenant.state, action: outcome.action });
        } catch (error) {
          errors.push({ tenantId: tenant.tenantId, message: (error as Error).message ?? String(error) });
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
  }
  return { checked, changed, errors };
}
