/**
 * Stripe events for the dunning tests, built on Stripe's published example objects (test/events/stripe/: the
 * Event envelope with an Invoice or a Subscription as `data.object`), overriding only what an event of that kind
 * changes, so every other field is as Stripe sends it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import type { StripeEventEnvelope } from '../../functions/dunning/stripe-event-processor';

const FIXTURES = join(__dirname, '..', 'events', 'stripe');
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;

let sequence = 0;
/** A fresh event id, as Stripe's (`evt_` and 24 characters). */
export function eventId(): string {
  sequence += 1;
  return `evt_test${String(sequence).padStart(6, '0')}${Math.random().toString(36).slice(2, 12).padEnd(10, '0')}`;
}

function envelope(type: string, object: Record<string, unknown>, created: number, id: string): StripeEventEnvelope {
  return { ...fixture('event'), id, type, created, api_version: '2025-03-31.basil', data: { object } } as unknown as StripeEventEnvelope;
}

export interface EventOptions {
  readonly id?: string;
  /** Seconds since the epoch. */
  readonly created: number;
}

/**
 * An invoice event (`invoice.payment_failed`, `invoice.paid`) of `subscriptionId`: `shape: 'basil'` names it
 * under `parent.subscription_details.subscription` (2025-03-31.basil and later), `shape: 'legacy'` at the top
 * level (`subscription`, no `parent`), as older API versions did.
 */
export function invoiceEvent(type: string, subscriptionId: string, options: EventOptions & { readonly shape?: 'basil' | 'legacy'; readonly customerId?: string }): StripeEventEnvelope {
  const invoice = fixture('invoice');
  const paid = type === 'invoice.paid' || type === 'invoice.payment_succeeded';
  const base = { ...invoice, customer: options.customerId ?? invoice.customer, status: paid ? 'paid' : 'open', attempted: true, paid };
  const object =
    options.shape === 'legacy'
      ? { ...Object.fromEntries(Object.entries(base).filter(([key]) => key !== 'parent')), subscription: subscriptionId }
      : { ...Object.fromEntries(Object.entries(base).filter(([key]) => key !== 'subscription')), parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: {}, subscription: subscriptionId } } };
  const event = envelope(type, object, options.created, options.id ?? eventId());
  return options.shape === 'legacy' ? { ...event, api_version: '2024-06-20' } : event;
}

/** A `customer.subscription.*` event whose object is the subscription with `status` (omitted: a thin event, the object's id only). */
export function subscriptionEvent(type: string, subscriptionId: string, options: EventOptions & { readonly status?: string; readonly thin?: boolean }): StripeEventEnvelope {
  const object = options.thin ? { id: subscriptionId, object: 'subscription' } : { ...fixture('subscription'), id: subscriptionId, ...(options.status ? { status: options.status } : {}) };
  return envelope(type, object, options.created, options.id ?? eventId());
}

/**
 * The Stripe-Signature header Stripe would send for `payload`, made by the real SDK
 * (`stripe.webhooks.generateTestHeaderString`): signed with STRIPE_WEBHOOK_SECRET (the test environment's) unless
 * another `secret` is given, at `timestamp` (seconds since the epoch; the wall clock's now when absent, as the
 * SDK's verification reads the wall clock).
 */
export function stripeSignature(payload: string, options: { readonly secret?: string; readonly timestamp?: number } = {}): string {
  const secret = options.secret ?? (process.env.STRIPE_WEBHOOK_SECRET as string);
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(options.timestamp ? { timestamp: options.timestamp } : {}) });
}
