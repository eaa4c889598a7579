/**
 * Creating a tenant with its billing customer: the customer and subscription are made (or the given ones linked)
 * through the billing port first, then the tenant, its audit item and its subscription link item are written in
 * one transaction, so a tenant is never stored half-billed and an event on its subscription finds it in one read
 * (functions/billing/subscription-links.ts).
 */
import type { BillingAccount, BillingPort, NewCustomerRequest } from '../billing/billing-port';
import { SubscriptionAlreadyLinkedError, linkRefusal, subscriptionLinkItem, type SubscriptionLink } from '../billing/subscription-links';
import { logger } from '../shared/powertools';
import { TenantAlreadyExistsError } from './errors';
import type { ChangeContext, NewTenant, Tenant, TenantStore } from './tenant-store';

export interface TenantCreationDependencies {
  readonly tenants: TenantStore;
  readonly billing: BillingPort;
  /** The link of a subscription (findTenantBySubscription on the lifecycle table). */
  readonly linkOf: (subscriptionId: string) => Promise<SubscriptionLink | undefined>;
}

/** The tenant to create; `link` names existing Stripe ids to bill it on instead of creating new ones. */
export type TenantCreation = Omit<NewTenant, 'billing'> & { readonly link?: NewCustomerRequest['link'] };

/** The idempotency key of a tenant's billing customer: one per tenant id, so a retried create makes one customer. */
export function billingCustomerKey(tenantId: string): string {
  return `tenant:${tenantId}:billing-customer`;
}

/**
 * Create the tenant `input` (active, version 1) with its billing account: `billing.createCustomer` (Stripe: a
 * customer and a subscription on the plan's price, or none for a plan without a price; the local ledger: a local
 * account for every plan; with `link`, the given ids, checked), then the tenant, its `create` audit item and its
 * subscription's link item in one transaction.
 *
 * Errors: TenantAlreadyExistsError (409) when the id is taken (checked before billing is asked, and again by the
 * transaction); SubscriptionAlreadyLinkedError (409) when the subscription already bills another tenant;
 * BillingLinkError (422) for link ids that do not fit; the billing port's BillingTransientError (503) and
 * BillingRejectedError (422). Nothing is stored when any is thrown. A customer this call created for a tenant the
 * transaction then refused is deleted again (best effort: when that fails too it is logged, with its ids, as an
 * error to clean up by hand); linked ids are never deleted.
 */
export async function createTenant(deps: TenantCreationDependencies, input: TenantCreation, context: ChangeContext): Promise<Tenant> {
  const { link, ...tenant } = input;
  // Asked first so a duplicate id or a taken subscription never reaches the billing provider (the transaction
  // still decides a race).
  if (await deps.tenants.find(tenant.tenantId)) throw new TenantAlreadyExistsError(tenant.tenantId);
  const taken = link?.subscriptionId ? await deps.linkOf(link.subscriptionId) : undefined;
  if (taken) throw new SubscriptionAlreadyLinkedError(taken.subscriptionId, taken.tenantId);
  const idempotencyKey = billingCustomerKey(tenant.tenantId);
  const account = await deps.billing.createCustomer({ tenantId: tenant.tenantId, name: tenant.name, email: tenant.email, plan: tenant.plan, idempotencyKey, ...(link ? { link } : {}) });
  try {
    return await deps.tenants.create({ ...tenant, ...(account ? { billing: account } : {}) }, context, {
      alsoPut: account ? [subscriptionLinkItem(tenant.tenantId, account)] : [],
      refusedPut: linkRefusal,
    });
  } catch (error) {
    if (account && !link) await undoCustomer(deps, tenant, account, idempotencyKey);
    throw error;
  }
}

/**
 * Delete the customer made for a tenant that was not stored, unless it is the account of the tenant stored under
 * that id (a concurrent create of the same id that won: the same idempotency key gave both the same customer).
 */
async function undoCustomer(deps: TenantCreationDependencies, tenant: Omit<NewTenant, 'billing'>, account: BillingAccount, idempotencyKey: string): Promise<void> {
  try {
    const stored = await deps.tenants.find(tenant.tenantId);
    if (stored?.billing?.customerId === account.customerId) return;
    await deps.billing.deleteCustomer({ tenantId: tenant.tenantId, account, plan: tenant.plan, idempotencyKey: `${idempotencyKey}:undo` });
  } catch (error) {
    logger.error('A billing customer made for a tenant that was not created could not be deleted: delete it by hand', { tenantId: tenant.tenantId, ...account, error });
  }
}
