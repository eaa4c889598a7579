/**
 * The two deployed entry points of Stripe events, invoked as AWS invokes them, with the fixtures of test/events/:
 * the webhook route's function with API Gateway's event for a public route (no authorizer), and the partner event
 * bus rule's target with a Stripe event destination's EventBridge event. Both hand the event to the one
 * processor (mocked here: the processor's own tests are the dunning helper's), on their own channel.
 */
import type { Context } from 'aws-lambda';
import Stripe from 'stripe';
import { handler as webhookHandler } from '../../functions/dunning/handlers/stripe-webhook';
import { handler as eventBridgeHandler } from '../../functions/dunning/handlers/stripe-eventbridge';
import { processStripeEvent } from '../../functions/dunning/stripe-event-processor';
import { publicApiEvent, stripePartnerEvent } from '../support/events';

jest.mock('../../functions/dunning/stripe-event-processor', () => ({ processStripeEvent: jest.fn() }));

const processor = processStripeEvent as jest.MockedFunction<typeof processStripeEvent>;
const context = { functionName: 'stripe', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

beforeEach(() => {
  processor.mockReset();
  processor.mockResolvedValue({ result: 'applied', tenantId: 'acme-corp', action: 'grace', tenantVersion: 2 });
});

describe('functions/dunning/handlers/stripe-webhook.ts (POST /webhooks/stripe)', () => {
  const detail = stripePartnerEvent().detail;
  const payload = Buffer.from(JSON.stringify(detail));
  const signature = () => Stripe.webhooks.generateTestHeaderString({ payload: payload.toString('utf8'), secret: process.env.STRIPE_WEBHOOK_SECRET as string });

  it.each([false, true])('verifies and processes a signed event without an authorizer (base64-encoded: %s)', async (base64) => {
    const event = publicApiEvent({ method: 'POST', route: '/webhooks/stripe', body: payload, base64, headers: { 'content-type': 'application/json', 'stripe-signature': signature() } });
    const response = await webhookHandler(event, context);
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body as string)).toEqual({ received: true, result: 'applied' });
    expect(processor).toHaveBeenCalledTimes(1);
    expect(processor).toHaveBeenCalledWith(detail, { channel: 'webhook' });
  });

  it('refuses a query string (the route takes none) before verifying', async () => {
    const event = { ...publicApiEvent({ method: 'POST', route: '/webhooks/stripe', body: payload, headers: { 'stripe-signature': signature() } }), rawQueryString: 'x=1', queryStringParameters: { x: '1' } };
    const response = await webhookHandler(event, context);
    expect(response.statusCode).toBe(400);
    expect(processor).not.toHaveBeenCalled();
  });

  it('answers 500, unread, when no signing secret is configured (Stripe retries while it is put in place)', async () => {
    const event = publicApiEvent({ method: 'POST', route: '/webhooks/stripe', body: payload, headers: { 'stripe-signature': signature() } });
    const secret = process.env.STRIPE_WEBHOOK_SECRET;
    delete process.env.STRIPE_WEBHOOK_SECRET;
    try {
      const response = await webhookHandler(event, context);
      expect(response.statusCode).toBe(500);
      expect(JSON.parse(response.body as string)).toMatchObject({ error: { code: 'INTERNAL_ERROR' } });
    } finally {
      process.env.STRIPE_WEBHOOK_SECRET = secret;
    }
    expect(processor).not.toHaveBeenCalled();
  });
});

describe('functions/dunning/handlers/stripe-eventbridge.ts (the partner event bus rule)', () => {
  it('hands the Stripe event in `detail` to the processor once, on the eventbridge channel', async () => {
    const event = stripePartnerEvent();
    await expect(eventBridgeHandler(event)).resolves.toEqual({ result: 'applied', tenantId: 'acme-corp', action: 'grace', tenantVersion: 2 });
    expect(processor).toHaveBeenCalledTimes(1);
    expect(processor).toHaveBeenCalledWith(event.detail, { channel: 'eventbridge' });
  });

  it('passes an unknown event type on (the processor answers ignored)', async () => {
    processor.mockResolvedValue({ result: 'ignored', reason: 'not a dunning event' });
    await expect(eventBridgeHandler(stripePartnerEvent({ type: 'customer.created' }))).resolves.toEqual({ result: 'ignored', reason: 'not a dunning event' });
  });

  it.each([
    ['another source', stripePartnerEvent({}, { source: 'aws.partner/example.com/abc' }), /not a Stripe partner event source/],
    ['a detail that is not a Stripe event', stripePartnerEvent({}, { detail: { hello: 'world' } }), /detail is not a Stripe event: .*id/],
    ['a detail without its created time', stripePartnerEvent({ created: 'yesterday' }), /created/],
    ['a detail-type that is not the event type', stripePartnerEvent({}, { 'detail-type': 'invoice.paid' }), /detail-type 'invoice.paid' is not the event's type/],
    ['no detail at all', stripePartnerEvent({}, { detail: undefined }), /detail is not a Stripe event/],
  ])('drops %s: resolves (no retry storm), logs why, the processor not called', async (_name, event, reason) => {
    await expect(eventBridgeHandler(event)).resolves.toEqual({ result: 'dropped', reason: expect.stringMatching(reason) });
    expect(processor).not.toHaveBeenCalled();
  });

  it('throws what the processor throws, so Lambda retries and then dead-letters the event', async () => {
    processor.mockRejectedValue(new Error('table unavailable'));
    await expect(eventBridgeHandler(stripePartnerEvent())).rejects.toThrow('table unavailable');
  });
});
