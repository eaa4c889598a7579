/**
 * The subscription → tenant link: how a Stripe event, which names a subscription, finds its tenant in one read.
 * One item per subscription a tenant was ever billed on, in a partition of its own:
 *   pk=SUBSCRIPTION#<subscriptionId>  sk=LINK  { tenantId, customerId, ownerTenantId }
 * `ownerTenantId` puts it in the byTenant index, so the hard delete purges it with the tenant's other items.
 * Written in the same transaction as the tenant's `billing` (create, a restored subscription); never updated
 * by the tenant store otherwise. The dunning processor keeps its own attributes on it (the last event applied).
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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

/** The tenant billed on `subscriptionId`; undefined when no tenant is (another system's subscription). One strongly consistent GetItem. */
export async function findTenantBySubscription(client: DynamoDBDocumentClient, tableName: string, subscriptionId: string): Promise<SubscriptionLink | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: subscriptionLinkKey(subscriptionId), ConsistentRead: true }));
  if (!Item || typeof Item.tenantId !== 'string') return undefined;
  const lastEvent = typeof Item.lastEventCreated === 'number' && typeof Item.lastEventId === 'string' ? { created: Item.lastEventCreated, id: Item.lastEventId } : undefined;
  return { subscriptionId, customerId: String(Item.customerId), tenantId: Item.tenantId, ...(lastEvent ? { lastEvent } : {}) };
}
