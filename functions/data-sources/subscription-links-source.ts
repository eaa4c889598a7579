/**
 * The tenant's subscription link items (`SUBSCRIPTION#<subscriptionId>` / `LINK`, functions/billing/subscription-links.ts):
 * which Stripe customer and subscription bill it, one item per subscription it was ever billed on, each in a
 * partition of its own and found through the byTenant index. They are the tenant's billing identifiers: exported
 * (the data subject's Stripe ids), and purged by the hard delete (unlike invoices, nothing obliges keeping them;
 * once gone, a late Stripe event on the subscription finds no tenant and changes nothing). Each link carries the
 * watermark of the last Stripe event applied to its subscription (`lastEventCreated`, `lastEventId`); the records
 * of the events themselves are idempotency records (idempotency-source.ts).
 */
import { SUBSCRIPTION_LINK_SK } from '../billing/subscription-links';
import { BY_TENANT_INDEX } from '../tenants/tenant-table';
import { TenantIndexSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function subscriptionLinksSource(options: TableSourceOptions): TenantIndexSource {
  return new TenantIndexSource({
    ...options,
    name: 'billing-links',
    tableItems: [{ name: 'subscription link', pkPrefix: 'SUBSCRIPTION#', sk: SUBSCRIPTION_LINK_SK }],
    toRecord: (item) => withoutStorageAttributes(item, ['type', BY_TENANT_INDEX.partitionKey]),
    description: {
      summary:
        'The Stripe customer and subscriptions that bill the tenant (or their local stand-ins without Stripe), one record per subscription it was billed on, in the lifecycle table (DynamoDB): how a Stripe event finds the tenant, and which event was applied to the subscription last (events arrive in any order).',
      fields: {
        subscriptionId: 'The Stripe subscription id (sub_...).',
        customerId: 'The Stripe customer id (cus_...).',
        tenantId: 'The tenant id.',
        lastEventId: 'The last Stripe event applied to the subscription (evt_...): an older one arriving later changes nothing.',
        lastEventCreated: 'When Stripe created that event (seconds since the epoch).',
      },
    },
  });
}
