/**
 * The tenant's subscription link items (`SUBSCRIPTION#<subscriptionId>` / `LINK`, functions/billing/subscription-links.ts):
 * which Stripe customer and subscription bill it, one item per subscription it was ever billed on, each in a
 * partition of its own and found through the byTenant index. They are the tenant's billing identifiers: exported
 * (the data subject's Stripe ids), and purged by the hard delete (unlike invoices, nothing obliges keeping them;
 * once gone, a late Stripe event on the subscription finds no tenant and changes nothing). With them, the records
 * of the Stripe events applied to the tenant (functions/dunning/stripe-event-records.ts: event id and type, when,
 * through which channel), kept 30 days for de-duplication.
 */
import { SUBSCRIPTION_LINK_SK } from '../billing/subscription-links';
import { STRIPE_EVENT_PK_PREFIX, STRIPE_EVENT_SK } from '../dunning/stripe-event-records';
import { BY_TENANT_INDEX } from '../tenants/tenant-table';
import { TenantIndexSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function subscriptionLinksSource(options: TableSourceOptions): TenantIndexSource {
  return new TenantIndexSource({
    ...options,
    name: 'billing-links',
    tableItems: [
      { name: 'subscription link', pkPrefix: 'SUBSCRIPTION#', sk: SUBSCRIPTION_LINK_SK },
      { name: 'Stripe event applied', pkPrefix: STRIPE_EVENT_PK_PREFIX, sk: STRIPE_EVENT_SK },
    ],
    toRecord: (item) => withoutStorageAttributes(item, ['type', BY_TENANT_INDEX.partitionKey]),
    description: {
      summary:
        'The Stripe customer and subscriptions that bill the tenant (or their local stand-ins without Stripe), one record per subscription it was billed on, and the Stripe events applied to it in the last 30 days, in the lifecycle table (DynamoDB): how a Stripe event finds the tenant, and how a redelivered one is recognised.',
      fields: {
        subscriptionId: 'The Stripe subscription id (sub_...).',
        customerId: 'The Stripe customer id (cus_...).',
        tenantId: 'The tenant id.',
        eventId: 'A Stripe event applied to the tenant (evt_...); on event records only.',
        eventType: "That event's type (invoice.payment_failed, customer.subscription.updated...).",
        created: 'When Stripe created the event (seconds since the epoch).',
        channel: 'How it arrived: webhook, eventbridge or reconcile.',
        processedAt: 'When it was applied (ISO 8601, UTC).',
      },
    },
  });
}
