/**
 * The one processor of Stripe events, whichever way they arrive: the webhook (`POST /webhooks/stripe`, after its
 * signature check) and the Amazon EventBridge partner event bus (Stripe event destinations) both hand it the
 * event object; the reconciliation sweep hands it what it read. It:
 * - deduplicates on the event id (a conditional write in the same transaction as its effect, kept longer than
 *   Stripe's retry window), so a redelivered event acts once;
 * - finds the tenant from the subscription in one read (the subscription → tenant link of the billing customer);
 * - ignores an event older than the last one applied to that subscription;
 * - reads the subscription's current state through the billing port (thin events work too) and applies the
 *   dunning ladder (dunning-policy.ts), the event's id and type in the audit item of any transition it causes.
 *
 * Skeleton of issue #10: the contract both delivery paths code against.
 */

/** How an event reached the processor. */
export type StripeEventChannel = 'webhook' | 'eventbridge' | 'reconcile';

/**
 * The fields of a Stripe Event object (https://docs.stripe.com/api/events/object) the processor reads; the rest
 * is kept as it came. A "thin" event may lack `data.object`'s details: the processor reads the subscription.
 */
export interface StripeEventEnvelope {
  readonly id: string;
  readonly type: string;
  /** Seconds since the epoch (Stripe's `created`). */
  readonly created: number;
  readonly api_version?: string | null;
  readonly livemode?: boolean;
  readonly data?: { readonly object?: Readonly<Record<string, unknown>> };
}

/** What the processor did with one event (logged, counted, and answered by the reconcile route). */
export type StripeEventOutcome =
  | { readonly result: 'applied'; readonly tenantId: string; readonly action: string; readonly tenantVersion: number }
  | { readonly result: 'no_change'; readonly tenantId: string; readonly reason: string }
  | { readonly result: 'duplicate'; readonly reason: string }
  | { readonly result: 'stale'; readonly tenantId: string; readonly reason: string }
  | { readonly result: 'ignored'; readonly reason: string };

export interface StripeEventDelivery {
  readonly channel: StripeEventChannel;
}

/**
 * Apply one Stripe event (see the module comment). Throws only what is worth a redelivery (the table or Stripe
 * unavailable): the webhook answers 500 and Stripe retries; the EventBridge rule retries and dead-letters.
 */
export async function processStripeEvent(_event: StripeEventEnvelope, _delivery: StripeEventDelivery): Promise<StripeEventOutcome> {
  throw new Error('processStripeEvent: not implemented yet (issue #10).');
}
