/**
 * The subscription → tenant link: how a Stripe event, which names a subscription, finds its tenant in one read.
 * One item per subscription a tenant was ever billed on, in a partition of its own:
 *   pk=SUBSCRIPTION#<subscriptionId>  sk=LINK  { tenantId, customerId, ownerTenantId }
 * `ownerTenantId` puts it in the byTenant index, so the hard delete purges it with the tenant's other items.
 * Written in the same transaction as the tenant's `billing` (create, a restored subscription); never updated
 * by the tenant store otherwise. The dunning processor keeps its own attributes on it (the last event applied).
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { registerHttpError } from '../shared/error-catalogue';
import { ownedBy } from '../tenants/tenant-table';
import type { BillingAccount } from './billing-port';

export const SUBSCRIPTION_LINK_SK = 'LINK';

export function subscriptionLinkPk(subscriptionId: string): string {
  return `SUBSCRIPTION#${subscriptionId}`;
}

/** The key of a subscription's link item. */
export function subscriptionLinkKey(subscriptionId: string): { readonly pk: string; readonly sk: string } {
  return { pk: subscriptionLinkPk(subscriptionId), sk: SUBSCRIPTION_LINK_SK };
}

export interface SubscriptionLink {
  readonly subscriptionId: string;
  readonly customerId: string;
  readonly tenantId: string;
  /**
   * The newest Stripe event applied to this subscription (the dunning processor's watermark, kept on this item
   * by its own conditional update): `created` (seconds since the epoch) and the event id for ties.
   */
  readonly lastEvent?: { readonly created: number; readonly id: string };
}

/**
 * The link item for `account` of `tenantId`, as a Put of a TransactWriteItems (its table name added by the
 * caller, e.g. the tenant store's `alsoPut`).
 */
export function subscriptionLinkItem(tenantId: string, account: BillingAccount): Record<string, unknown> {
  return {
    ...subscriptionLinkKey(account.subscriptionId),
    type: 'subscription-link',
    subscriptionId: account.subscriptionId,
    customerId: account.customerId,
    tenantId,
    ...ownedBy(tenantId),
  };
}

/**
 * A subscription is already linked to a tenant: one subscription bills one tenant (its events must find one
 * tenant), so a second tenant on it is refused (409) and nothing is created.
 */
export class SubscriptionAlreadyLinkedError extends Error {
  /** The stable code the API answers with. */
  readonly code = 'SUBSCRIPTION_ALREADY_LINKED' as const;
  readonly subscriptionId: string;
  /** The tenant it bills, when known. */
  readonly linkedTenantId: string | undefined;
  constructor(subscriptionId: string, linkedTenantId: string | undefined) {
    super(`Stripe subscription ${subscriptionId} already bills tenant '${linkedTenantId ?? 'unknown'}'; a subscription bills one tenant. Link another subscription, or none to create one.`);
    this.name = 'SubscriptionAlreadyLinkedError';
    this.subscriptionId = subscriptionId;
    this.linkedTenantId = linkedTenantId;
  }
}
registerHttpError(SubscriptionAlreadyLinkedError, { status: 409, details: (error) => ({ subscriptionId: error.subscriptionId, linkedTenantId: error.linkedTenantId }) });

/** The refusal of a link item put where one exists (TenantStore.create's `refusedPut`): who the subscription bills. */
export function linkRefusal(item: Record<string, unknown>, existing: Record<string, unknown> | undefined): SubscriptionAlreadyLinkedError {
  return new SubscriptionAlreadyLinkedError(String(item.subscriptionId), typeof existing?.tenantId === 'string' ? existing.tenantId : undefined);
}

/** The tenant billed on `subscriptionId`; undefined when no tenant is (another system's subscription). One strongly consistent GetItem. */
export async function findTenantBySubscription(client: DynamoDBDocumentClient, tableName: string, subscriptionId: string): Promise<SubscriptionLink | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: subscriptionLinkKey(subscriptionId), ConsistentRead: true }));
  if (!Item || typeof Item.tenantId !== 'string') return undefined;
  const lastEvent = typeof Item.lastEventCreated === 'number' && typeof Item.lastEventId === 'string' ? { created: Item.lastEventCreated, id: Item.lastEventId } : undefined;
  return { subscriptionId, customerId: String(Item.customerId), tenantId: Item.tenantId, ...(lastEvent ? { lastEvent } : {}) };
}
