/**
 * POST /webhooks/stripe through the local API adapter (the same handler module the stack deploys): no bearer token,
 * the Stripe-Signature header verified by the real Stripe SDK on the exact bytes sent, then the one Stripe event
 * processor called with the event. The processor is replaced by a mock here (its own tests are the dunning
 * helper's): what matters is whether it is called, once, with the verified event, and that a refused delivery
 * changes nothing in the table.
 */
import { ApiHarness } from '../../support/api-harness';
import { StripeEventInProgressError } from '../../../functions/dunning/stripe-event-delivery';
import { processStripeEvent, type StripeEventEnvelope } from '../../../functions/dunning/stripe-event-processor';
import invoice from '../../events/stripe/invoice.json';
import { stripeSignature as sign } from '../../support/stripe-events';

jest.mock('../../../functions/dunning/stripe-event-processor', () => ({ processStripeEvent: jest.fn() }));

const SECRET = process.env.STRIPE_WEBHOOK_SECRET as string;
const processor = processStripeEvent as jest.MockedFunction<typeof processStripeEvent>;
const api = new ApiHarness();

/** A Stripe `invoice.payment_failed` event (https://docs.stripe.com/api/events/object) around Stripe's example invoice. */
function paymentFailed(id = 'evt_1TestPaymentFailed', object: Record<string, unknown> = invoice): StripeEventEnvelope & Record<string, unknown> {
  return {
    id,
    object: 'event',
    api_version: '2025-03-31.basil',
    created: Math.floor(Date.now() / 1000) - 5,
    data: { object: { ...object, status: 'open', attempted: true, attempt_count: 1 } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'invoice.payment_failed',
  };
}

function deliver(payload: string | Uint8Array, headers: Record<string, string>) {
  return api.request('POST', '/webhooks/stripe', { token: null, rawBody: payload, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

beforeAll(async () => {
  await api.start();
  await api.createTenant('acme-corp');
});
afterAll(() => api.stop());
beforeEach(() => {
  processor.mockReset();
  processor.mockResolvedValue({ result: 'applied', tenantId: 'acme-corp', action: 'grace', tenantVersion: 2 });
});

describe('POST /webhooks/stripe', () => {
  it('verifies a signed event without a bearer token and hands it to the processor once, on the webhook channel', async () => {
    const payload = JSON.stringify(paymentFailed(), null, 2);
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: true, result: 'applied' });
    expect(processor).toHaveBeenCalledTimes(1);
    expect(processor).toHaveBeenCalledWith(JSON.parse(payload), { channel: 'webhook' });
  });

  it('answers 200 with the processor\'s "ignored" for an event type it does not act on', async () => {
    processor.mockResolvedValue({ result: 'ignored', reason: 'customer.created is not a dunning event' });
    const payload = JSON.stringify({ ...paymentFailed('evt_1TestUnknown'), type: 'customer.created' });
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: true, result: 'ignored' });
  });

  it('accepts a body API Gateway hands over base64-encoded (a content type that is not text), verified on the decoded bytes', async () => {
    const payload = JSON.stringify(paymentFailed('evt_1TestBase64'));
    const response = await api.request('POST', '/webhooks/stripe', {
      token: null,
      rawBody: Buffer.from(payload),
      headers: { 'content-type': 'application/octet-stream', 'stripe-signature': sign(payload) },
    });
    expect(response.status).toBe(200);
    expect(processor).toHaveBeenCalledWith(JSON.parse(payload), { channel: 'webhook' });
  });

  it('accepts a signed body over the API\'s 64 KiB limit (Stripe does not shrink its events)', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => ({ id: `il_${i}`, object: 'line_item', description: `Seat ${i} `.padEnd(200, '.'), amount: 1000 }));
    const event = paymentFailed('evt_1TestLarge', { ...invoice, lines: { object: 'list', data: lines, has_more: false } });
    const payload = JSON.stringify(event);
    expect(Buffer.byteLength(payload)).toBeGreaterThan(64 * 1024);
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(200);
    expect(processor).toHaveBeenCalledTimes(1);
    expect((processor.mock.calls[0]?.[0] as StripeEventEnvelope).id).toBe('evt_1TestLarge');
  });

  it('still refuses a body over 64 KiB on every other route', async () => {
    const response = await api.request('POST', '/tenants', { body: { name: 'x'.repeat(70 * 1024), email: 'a@b.example' } });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('answers 409 STRIPE_EVENT_IN_PROGRESS while another delivery of the event is processed, so Stripe delivers it again', async () => {
    processor.mockRejectedValue(new StripeEventInProgressError('evt_1TestBusy'));
    const payload = JSON.stringify(paymentFailed('evt_1TestBusy'));
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(409);
    expect(response.body).toEqual({ error: expect.objectContaining({ code: 'STRIPE_EVENT_IN_PROGRESS', message: expect.stringContaining('evt_1TestBusy') }) });
  });

  it('does not apply Idempotency-Key: the processor deduplicates on the event id', async () => {
    const payload = JSON.stringify(paymentFailed('evt_1TestKey'));
    const first = await deliver(payload, { 'stripe-signature': sign(payload), 'idempotency-key': 'same-key' });
    processor.mockResolvedValue({ result: 'duplicate', reason: 'evt_1TestKey was already processed' });
    const second = await deliver(payload, { 'stripe-signature': sign(payload), 'idempotency-key': 'same-key' });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body).toEqual({ received: true, result: 'duplicate' });
    expect(processor).toHaveBeenCalledTimes(2);
  });

  it('answers 500 when the processor fails, so Stripe redelivers the event', async () => {
    processor.mockRejectedValue(new Error('table unavailable'));
    const payload = JSON.stringify(paymentFailed('evt_1TestRetry'));
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(500);
    expect(response.body).toMatchObject({ error: { code: 'INTERNAL_ERROR' } });
    expect(response.text).not.toContain('table unavailable');
  });

  const original = JSON.stringify(paymentFailed('evt_1TestRefused'));
  const reordered = (() => {
    const { type, id, ...rest } = JSON.parse(original) as Record<string, unknown>;
    return JSON.stringify({ type, ...rest, id });
  })();
  const refusals: Array<{ name: string; payload: string; headers: () => Record<string, string>; message: RegExp }> = [
    { name: 'no Stripe-Signature header', payload: original, headers: () => ({}), message: /Stripe-Signature header is missing/ },
    { name: 'a header that is not a Stripe signature', payload: original, headers: () => ({ 'stripe-signature': 'sha256=abc' }), message: /t=<timestamp>,v1=<signature>/ },
    { name: 'a wrong secret', payload: original, headers: () => ({ 'stripe-signature': sign(original, { secret: 'whsec_not_this_endpoints_secret' }) }), message: /does not match/ },
    { name: 'a body re-serialized with other spacing', payload: JSON.stringify(JSON.parse(original), null, 2), headers: () => ({ 'stripe-signature': sign(original) }), message: /exact bytes/ },
    { name: 'a body re-serialized with another key order', payload: reordered, headers: () => ({ 'stripe-signature': sign(original) }), message: /exact bytes/ },
    { name: 'an altered body', payload: original.replace('invoice.payment_failed', 'invoice.paid'), headers: () => ({ 'stripe-signature': sign(original) }), message: /does not match/ },
    {
      name: 'a stale timestamp (past the 300 s tolerance)',
      payload: original,
      headers: () => ({ 'stripe-signature': sign(original, { timestamp: Math.floor(Date.now() / 1000) - 301 }) }),
      message: /older than the 300 s/,
    },
  ];
  it.each(refusals)('refuses $name: 400, the processor not called, nothing changed', async ({ payload, headers, message }) => {
    const before = await api.tableSnapshot();
    const response = await deliver(payload, headers());
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'STRIPE_SIGNATURE_INVALID', message: expect.stringMatching(message) } });
    expect(response.text).not.toContain(SECRET);
    expect(processor).not.toHaveBeenCalled();
    expect(await api.tableSnapshot()).toEqual(before);
  });

  it('refuses a signed body that is not a Stripe event object with 400, without calling the processor', async () => {
    const payload = JSON.stringify({ hello: 'world' });
    const response = await deliver(payload, { 'stripe-signature': sign(payload) });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect(processor).not.toHaveBeenCalled();
  });

  it('refuses bytes that are not UTF-8 before verifying (two such bodies could decode to the same text)', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"evt_1"'), Buffer.from([0xff]), Buffer.from('}')]);
    const response = await deliver(bytes, { 'stripe-signature': sign(bytes.toString('utf8')) });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'MALFORMED_UTF8' } });
    expect(processor).not.toHaveBeenCalled();
  });
});
