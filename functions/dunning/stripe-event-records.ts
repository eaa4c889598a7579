/**
 * The records of Stripe events the processor applied: Powertools idempotency records keyed on the event id
 * (functions/shared/idempotency.ts), in the partition of the event's tenant (`IDEMPOTENCY#<tenantId>`, sort key
 * STRIPE_EVENT#<hash of the id>), holding the first delivery's outcome, so a redelivery answers it and acts no
 * more. The tenant's data (exported and purged with its idempotency records); expired through the table's TTL
 * after EVENT_DEDUPLICATION_SECONDS. Names only here, so data sources can name them without loading the processor.
 */

/**
 * How long an event id is remembered (seconds): 30 days, longer than Stripe's retries of a failed delivery (up
 * to 3 days, https://docs.stripe.com/webhooks#retries) and as long as Stripe keeps events to resend by hand.
 */
export const EVENT_DEDUPLICATION_SECONDS = 30 * 24 * 60 * 60;
/** The sort key prefix of a Stripe event's record (STRIPE_EVENT#<hash>). */
export const STRIPE_EVENT_RECORD_KIND = 'STRIPE_EVENT';
