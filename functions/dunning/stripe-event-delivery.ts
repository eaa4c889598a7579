/**
 * What both delivery paths of Stripe events (the signed webhook and the EventBridge partner bus) check before
 * handing an event to the one processor (stripe-event-processor.ts): that it is a Stripe Event object
 * (https://docs.stripe.com/api/events/object) with the fields the processor relies on. The rest of the event is
 * kept as it came (an unknown field is Stripe's to add, never a reason to refuse).
 */
import * as z from 'zod';
import { explainIssue, validationError, type ApiError } from '../shared/errors';
import { text } from '../shared/schemas';
import type { StripeEventEnvelope } from './stripe-event-processor';

/** The prefix of every Stripe partner event source on EventBridge (the rest names the event destination). */
export const STRIPE_PARTNER_SOURCE_PREFIX = 'aws.partner/stripe.com/';

/** A Stripe Event object, as far as the processor reads it; other fields pass through. */
export const stripeEventSchema = z.looseObject({
  id: text(255),
  type: text(255),
  /** Seconds since the epoch. */
  created: z.number().int().nonnegative(),
  object: z.literal('event').optional(),
  api_version: z.string().nullable().optional(),
  livemode: z.boolean().optional(),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()).optional() }).optional(),
});

/**
 * `value` as a Stripe event, or why it is not one: a 400 naming every field and what is wrong with it, for the
 * caller to answer (the webhook) or log before dropping the event (EventBridge, where a retry would not help).
 */
export function parseStripeEvent(value: unknown): { readonly event: StripeEventEnvelope } | { readonly refusal: ApiError } {
  const result = stripeEventSchema.safeParse(value, { error: explainIssue });
  return result.success ? { event: result.data as StripeEventEnvelope } : { refusal: validationError(result.error, 'body') };
}

/** Another delivery of the same event is being processed right now: answer so that Stripe delivers it again later. */
export class StripeEventInProgressError extends Error {
  constructor(readonly eventId: string) {
    super(`Another delivery of Stripe event ${eventId} is being processed; deliver it again later.`);
    this.name = 'StripeEventInProgressError';
  }
}
