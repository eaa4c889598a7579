/**
 * Stripe events through Amazon EventBridge (Stripe event destinations, https://docs.stripe.com/event-destinations/eventbridge):
 * Stripe puts each event on a partner event bus as `source` `aws.partner/stripe.com/<destination>`,
 * `detail-type` the event type and `detail` the Stripe Event object; the stack's rule (`-c stripeEventSource=...`)
 * invokes this function with it. No signature here: only Stripe can put events on its partner event source, and
 * the rule matches that source. The event goes to the same processor as the webhook's, on channel 'eventbridge'.
 *
 * A malformed event (another source, a detail that is not a Stripe event, a detail-type that is not the event's
 * type) is logged at error level, counted by the log, and dropped: the function returns normally, so neither
 * Lambda's asynchronous retries nor the rule's retry policy send it again (it would be just as malformed). A
 * failure of the processor (the table or Stripe unavailable) is thrown: Lambda retries the invocation twice,
 * then it goes to the dead-letter queue (infra: StripeEvents), whose alarm an operator answers.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { logger } from '../../shared/powertools';
import { STRIPE_PARTNER_SOURCE_PREFIX, parseStripeEvent } from '../stripe-event-delivery';
import { processStripeEvent, type StripeEventDelivery, type StripeEventEnvelope, type StripeEventOutcome } from '../stripe-event-processor';

/** What the handler did: the processor's outcome, or `dropped` with why (a malformed event). */
export type StripeEventBridgeResult = StripeEventOutcome | { readonly result: 'dropped'; readonly reason: string };

export interface StripeEventBridgeDependencies {
  /** The processor (processStripeEvent deployed; a stand-in in tests). */
  readonly process: (event: StripeEventEnvelope, delivery: StripeEventDelivery) => Promise<StripeEventOutcome>;
}

/** Why `event` is not a Stripe event as a partner event bus delivers one, or the Stripe event it carries. */
function stripeEventOf(event: EventBridgeEvent<string, unknown>): { readonly event: StripeEventEnvelope } | { readonly reason: string } {
  if (typeof event?.source !== 'string' || !event.source.startsWith(STRIPE_PARTNER_SOURCE_PREFIX)) {
    return { reason: `source '${String(event?.source)}' is not a Stripe partner event source (${STRIPE_PARTNER_SOURCE_PREFIX}...)` };
  }
  const parsed = parseStripeEvent(event.detail);
  if ('refusal' in parsed) return { reason: `detail is not a Stripe event: ${parsed.refusal.message}` };
  if (event['detail-type'] !== parsed.event.type) return { reason: `detail-type '${event['detail-type']}' is not the event's type '${parsed.event.type}'` };
  return parsed;
}

/** Handle one EventBridge event (see the module comment). Throws only what the processor throws. */
export async function receiveStripeEventBridgeEvent(event: EventBridgeEvent<string, unknown>, dependencies: StripeEventBridgeDependencies): Promise<StripeEventBridgeResult> {
  const found = stripeEventOf(event);
  if ('reason' in found) {
    logger.error('Stripe EventBridge event dropped: malformed', { eventBridgeId: event?.id, source: event?.source, detailType: event?.['detail-type'], reason: found.reason });
    return { result: 'dropped', reason: found.reason };
  }
  logger.appendKeys({ stripeEventId: found.event.id, stripeEventType: found.event.type });
  try {
    const outcome = await dependencies.process(found.event, { channel: 'eventbridge' });
    logger.info('Stripe event processed', { channel: 'eventbridge', eventBridgeId: event.id, outcome });
    return outcome;
  } finally {
    logger.removeKeys(['stripeEventId', 'stripeEventType']);
  }
}

/** The Lambda handler with these dependencies (the deployed one: `handler`). */
export function stripeEventBridgeHandler(dependencies: Partial<StripeEventBridgeDependencies> = {}): (event: EventBridgeEvent<string, unknown>) => Promise<StripeEventBridgeResult> {
  const resolved: StripeEventBridgeDependencies = { process: processStripeEvent, ...dependencies };
  return (event) => receiveStripeEventBridgeEvent(event, resolved);
}

export const handler = stripeEventBridgeHandler();
