/**
 * The record of a Stripe event the processor applied: `pk=STRIPE_EVENT#<eventId>`, `sk=EVENT`, written in the same
 * transaction as the event's effect, so a redelivered event finds it and acts no more. It carries the tenant
 * (`ownerTenantId`: exported with the tenant's billing links and purged by its hard delete) and expires through
 * the table's TTL after EVENT_DEDUPLICATION_SECONDS. Keys only here, so data sources can name it without loading
 * the processor.
 */

/**
 * How long an event id is remembered (seconds): 30 days, longer than Stripe's retries of a failed delivery (up
 * to 3 days, https://docs.stripe.com/webhooks#retries) and as long as Stripe keeps events to resend by hand.
 */
export const EVENT_DEDUPLICATION_SECONDS = 30 * 24 * 60 * 60;
export const STRIPE_EVENT_PK_PREFIX = 'STRIPE_EVENT#';
export const STRIPE_EVENT_SK = 'EVENT';

export function stripeEventKey(eventId: string): { readonly pk: string; readonly sk: string } {
  return { pk: `${STRIPE_EVENT_PK_PREFIX}${eventId}`, sk: STRIPE_EVENT_SK };
}
