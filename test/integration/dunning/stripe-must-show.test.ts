/**
 * Issue 10's "Must show", end to end through the entry points users and Stripe reach, nothing mocked: signed
 * deliveries to POST /webhooks/stripe through the local API adapter, and events put on the EventBridge partner bus
 * handed to the deployed handler module (functions/dunning/handlers/stripe-eventbridge.ts), both reaching the real
 * processor, the billing ledger (no Stripe key, as `npm start` runs) and the local scheduler on DynamoDB Local.
 * Time is the local stack's simulated clock (installed as `npm start -- --clock=simulated` does, read by every
 * store, the ledger and the scheduler); timers fire through the scheduler's fireDue with the registry's target
 * handlers, as the local stack fires them. What is asserted is what a user sees: GET /tenants/{id}, its access
 * answer and its history, and the table unchanged where nothing may change.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { dunningTimerName } from '../../../functions/dunning/dunning-definition';
import { handler as eventBridgeHandler } from '../../../functions/dunning/handlers/stripe-eventbridge';
import type { StripeEventEnvelope } from '../../../functions/dunning/stripe-event-processor';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { workflowPorts } from '../../../functions/workflows/ports';
import { SimulatedClock, installLocalClock } from '../../../infra/local/local-clock';
import { scheduleTargetHandlers } from '../../../infra/local/local-stack';
import { ApiHarness } from '../../support/api-harness';
import { stripePartnerEvent } from '../../support/events';
import { invoiceEvent, stripeSignature, subscriptionEvent } from '../../support/stripe-events';

const DAY_MS = 86_400_000;
const GRACE_DAYS = 7; // DUNNING_GRACE_DAYS unset: the default
const api = new ApiHarness();
// Frozen at the start, moved only by advance(): every `created` and every due time is known.
const startedAt = Date.now();
const simulated = new SimulatedClock(() => startedAt);
const seconds = () => Math.floor(simulated.now().getTime() / 1000);
let uninstallClock: () => void;
let scheduler: LocalScheduler;

beforeAll(async () => {
  uninstallClock = installLocalClock(simulated);
  await api.start();
  scheduler = new LocalScheduler({ client: api.documentClient, tableName: config.tableName, handlers: await scheduleTargetHandlers() });
});
afterAll(async () => {
  await api.stop();
  uninstallClock();
});

interface HistoryEntry {
  readonly event: string;
  readonly from: string;
  readonly to: string;
  readonly actor: string;
  readonly stripeEventId?: string;
  readonly stripeEventType?: string;
}

/** A tenant created through POST /tenants (its billing customer and subscription link made by the ledger); answers its subscription id. */
async function billedTenant(tenantId: string): Promise<string> {
  await api.createTenant(tenantId);
  const { body } = await api.request<{ billing?: { subscriptionId?: string } }>('GET', `/tenants/${tenantId}`);
  const subscriptionId = body.billing?.subscriptionId;
  if (!subscriptionId) throw new Error(`tenant ${tenantId} has no subscription: ${JSON.stringify(body)}`);
  return subscriptionId;
}

/** What a user sees of `tenantId`: GET /tenants/{id}, GET /tenants/{id}/access, GET /tenants/{id}/history (newest first). */
async function seen(tenantId: string) {
  const [tenant, access, history] = await Promise.all([
    api.request<{ state: string; version: number }>('GET', `/tenants/${tenantId}`),
    api.request<{ access: string; state: string; billing?: { standing: string; warning: string; graceEndsAt: string } }>('GET', `/tenants/${tenantId}/access`),
    api.request<{ items: HistoryEntry[] }>('GET', `/tenants/${tenantId}/history`),
  ]);
  return { tenant: tenant.body, access: access.body, history: history.body.items };
}

/** POST /webhooks/stripe with `payload` as the exact bytes sent. */
function post(payload: string | Uint8Array, headers: Record<string, string>, contentType = 'application/json; charset=utf-8') {
  return api.request('POST', '/webhooks/stripe', { token: null, rawBody: payload, headers: { 'content-type': contentType, ...headers } });
}

interface Channel {
  readonly name: 'webhook' | 'eventbridge';
  /** Deliver `event` as Stripe would on this channel; answers the processor's result as the channel reports it. */
  readonly deliver: (event: StripeEventEnvelope) => Promise<string>;
}

const channels: Channel[] = [
  {
    name: 'webhook',
    deliver: async (event) => {
      const payload = JSON.stringify(event);
      const response = await post(payload, { 'stripe-signature': stripeSignature(payload) });
      expect(response.status).toBe(200);
      return (response.body as { result: string }).result;
    },
  },
  {
    name: 'eventbridge',
    deliver: async (event) => (await eventBridgeHandler(stripePartnerEvent(event as unknown as Record<string, unknown>) as EventBridgeEvent<string, unknown>)).result,
  },
];

describe.each(channels)('Stripe events through the $name path', ({ name, deliver }) => {
  const actor = `stripe:${name}`;

  it('invoice.payment_failed starts the grace period (read_write with a warning), the timer suspends once it is over, invoice.paid resumes', async () => {
    const tenantId = `grace-${name}`;
    const subscriptionId = await billedTenant(tenantId);
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() });

    expect(await deliver(failed)).toBe('applied');

    const graceEndsAt = new Date(simulated.now().getTime() + GRACE_DAYS * DAY_MS).toISOString();
    const inGrace = await seen(tenantId);
    expect(inGrace.tenant).toMatchObject({ state: 'active', version: 2 });
    expect(inGrace.access).toMatchObject({ access: 'read_write', state: 'active', billing: { standing: 'grace', graceEndsAt, warning: expect.stringContaining(graceEndsAt) } });
    expect(inGrace.history[0]).toMatchObject({ event: 'start_grace_period', from: 'active', to: 'active', actor, stripeEventId: failed.id, stripeEventType: 'invoice.payment_failed' });

    // A minute before the end nothing is due.
    simulated.advance(GRACE_DAYS * 86_400 - 60);
    expect((await scheduler.fireDue()).fired).not.toContain(dunningTimerName(tenantId));
    expect((await seen(tenantId)).access).toMatchObject({ access: 'read_write', billing: { standing: 'grace' } });

    simulated.advance(120);
    expect((await scheduler.fireDue()).fired).toContain(dunningTimerName(tenantId));
    const suspended = await seen(tenantId);
    expect(suspended.tenant).toMatchObject({ state: 'suspended', version: 3 });
    expect(suspended.access).toMatchObject({ access: 'read_only', state: 'suspended' });
    expect(suspended.history[0]).toMatchObject({ event: 'suspend', from: 'active', to: 'suspended', actor: 'dunning:timer' });

    const paid = invoiceEvent('invoice.paid', subscriptionId, { created: seconds() });
    expect(await deliver(paid)).toBe('applied');

    const resumed = await seen(tenantId);
    expect(resumed.tenant).toMatchObject({ state: 'active' });
    expect(resumed.access).toMatchObject({ access: 'read_write', state: 'active' });
    expect(resumed.access.billing).toBeUndefined();
    expect(resumed.history.slice(0, 2)).toEqual([
      expect.objectContaining({ event: 'complete_reactivation', from: 'reactivating', to: 'active', stripeEventId: paid.id, stripeEventType: 'invoice.paid' }),
      expect.objectContaining({ event: 'resume', from: 'suspended', to: 'reactivating', actor, stripeEventId: paid.id, stripeEventType: 'invoice.paid' }),
    ]);
  });

  it('acts once on the same event delivered twice: one transition, one audit item', async () => {
    const tenantId = `twice-${name}`;
    const failed = invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() });

    expect(await deliver(failed)).toBe('applied');
    expect(await deliver(failed)).toBe('duplicate');

    const { tenant, history } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'active', version: 2 });
    expect(history.filter((entry) => entry.stripeEventId === failed.id)).toHaveLength(1);
    expect(history.filter((entry) => entry.event === 'start_grace_period')).toHaveLength(1);
  });

  it('leaves the tenant active when a payment_failed arrives after a newer paid', async () => {
    const tenantId = `order-${name}`;
    const subscriptionId = await billedTenant(tenantId);
    const failed = invoiceEvent('invoice.payment_failed', subscriptionId, { created: seconds() - 3600 });
    const paid = invoiceEvent('invoice.paid', subscriptionId, { created: seconds() });

    expect(await deliver(paid)).toBe('no_change');
    expect(await deliver(failed)).toBe('stale');

    const { tenant, access, history } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'active', version: 1 });
    expect(access).toMatchObject({ access: 'read_write', state: 'active' });
    expect(access.billing).toBeUndefined();
    expect(history.filter((entry) => entry.stripeEventId !== undefined)).toEqual([]);
  });

  it('answers an event type the ladder does not act on with ignored and changes nothing, though it names a tenant\'s subscription', async () => {
    const subscriptionId = await billedTenant(`unknown-${name}`);
    const before = await api.tableSnapshot();

    expect(await deliver(invoiceEvent('invoice.finalized', subscriptionId, { created: seconds() }))).toBe('ignored');
    expect(await deliver({ ...subscriptionEvent('customer.subscription.created', subscriptionId, { created: seconds() }), type: 'customer.discount.created' })).toBe('ignored');

    expect(await api.tableSnapshot()).toEqual(before);
  });
});

describe('both paths at once', () => {
  it('acts once on an event that arrives by the webhook and by EventBridge (both destinations configured)', async () => {
    const tenantId = 'both-paths-co';
    const [webhook, eventBridge] = channels;
    const failed = invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() });

    expect(await eventBridge?.deliver(failed)).toBe('applied');
    expect(await webhook?.deliver(failed)).toBe('duplicate');

    const { tenant, history } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'active', version: 2 });
    expect(history.filter((entry) => entry.stripeEventId === failed.id)).toEqual([expect.objectContaining({ event: 'start_grace_period', actor: 'stripe:eventbridge' })]);
  });
});

describe('concurrent deliveries on the webhook path', () => {
  it('acts once on the same event delivered three times at once: one 200 applied, the others 409 STRIPE_EVENT_IN_PROGRESS (Stripe delivers again) or 200 duplicate', async () => {
    const tenantId = 'concurrent-webhook-co';
    const failed = invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() });
    const payload = JSON.stringify(failed);

    const responses = await Promise.all([1, 2, 3].map(() => post(payload, { 'stripe-signature': stripeSignature(payload) })));

    const answers = responses.map((response) => `${response.status} ${response.status === 200 ? (response.body as { result: string }).result : (response.body as { error: { code: string } }).error.code}`);
    expect(answers.filter((answer) => answer === '200 applied')).toHaveLength(1);
    expect(answers.filter((answer) => answer !== '200 applied').every((answer) => answer === '200 duplicate' || answer === '409 STRIPE_EVENT_IN_PROGRESS')).toBe(true);
    const { tenant, history } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'active', version: 2 });
    expect(history.filter((entry) => entry.stripeEventId === failed.id)).toHaveLength(1);
    // Stripe's later redelivery of the refused one: the duplicate.
    expect(await channels[0]?.deliver(failed)).toBe('duplicate');
  });
});

describe('signatures on the webhook path', () => {
  it.each([
    { refused: 'a body re-serialized with other spacing', send: (original: string) => ({ payload: JSON.stringify(JSON.parse(original), null, 2), signature: stripeSignature(original) }) },
    {
      refused: 'a body re-serialized with another key order',
      send: (original: string) => {
        const { type, id, ...rest } = JSON.parse(original) as Record<string, unknown>;
        return { payload: JSON.stringify({ type, ...rest, id }), signature: stripeSignature(original) };
      },
    },
    { refused: 'a wrong secret', send: (original: string) => ({ payload: original, signature: stripeSignature(original, { secret: 'whsec_not_this_endpoints_secret' }) }) },
    { refused: 'a stale timestamp (past the 300 s tolerance)', send: (original: string) => ({ payload: original, signature: stripeSignature(original, { timestamp: Math.floor(Date.now() / 1000) - 301 }) }) },
  ])('refuses $refused with 400 and changes nothing', async ({ refused, send }) => {
    const tenantId = `refused-${refused.split(' ').slice(-2).join('-').replace(/[^a-z0-9-]/g, '')}`;
    const original = JSON.stringify(invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() }));
    const before = await api.tableSnapshot();
    const { payload, signature } = send(original);

    const response = await post(payload, { 'stripe-signature': signature });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'STRIPE_SIGNATURE_INVALID', message: expect.any(String) } });
    expect(await api.tableSnapshot()).toEqual(before);
    const { tenant, access } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'active', version: 1 });
    expect(access.billing).toBeUndefined();
  });

  it('accepts and acts on a body API Gateway hands over base64-encoded', async () => {
    const tenantId = 'base64-co';
    const event = invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() });
    const payload = JSON.stringify(event);

    const response = await post(Buffer.from(payload), { 'stripe-signature': stripeSignature(payload) }, 'application/octet-stream');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: true, result: 'applied' });
    const { access, history } = await seen(tenantId);
    expect(access).toMatchObject({ access: 'read_write', billing: { standing: 'grace' } });
    expect(history[0]).toMatchObject({ event: 'start_grace_period', stripeEventId: event.id });
  });

  it('accepts and acts on a signed body over 64 KiB', async () => {
    const tenantId = 'large-co';
    const event = invoiceEvent('invoice.payment_failed', await billedTenant(tenantId), { created: seconds() });
    const lines = Array.from({ length: 400 }, (_, i) => ({ id: `il_${i}`, object: 'line_item', description: `Seat ${i} `.padEnd(200, '.'), amount: 1000 }));
    const large = { ...event, data: { object: { ...event.data?.object, lines: { object: 'list', data: lines, has_more: false } } } };
    const payload = JSON.stringify(large);
    expect(Buffer.byteLength(payload)).toBeGreaterThan(64 * 1024);

    const response = await post(payload, { 'stripe-signature': stripeSignature(payload) });

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: true, result: 'applied' });
    const { access, history } = await seen(tenantId);
    expect(access).toMatchObject({ access: 'read_write', billing: { standing: 'grace' } });
    expect(history[0]).toMatchObject({ event: 'start_grace_period', stripeEventId: event.id });
  });
});

describe('a missed event caught by reconciliation', () => {
  it('POST /billing/reconcile suspends the tenant whose subscription went unpaid without an event, and reports it', async () => {
    const tenantId = 'missed-co';
    const subscriptionId = await billedTenant(tenantId);
    const { body } = await api.request<{ billing: { customerId: string; subscriptionId: string; subscriptionItemId: string } }>('GET', `/tenants/${tenantId}`);
    // Billing knows the subscription is unpaid (the ledger keeps the status reported to it); the event never arrived.
    await workflowPorts().billing.retrieveSubscription({ tenantId, account: body.billing, reported: { subscriptionId, customerId: body.billing.customerId, status: 'unpaid', changedAt: seconds() } });
    expect((await seen(tenantId)).tenant).toMatchObject({ state: 'active', version: 1 });

    const reconciled = await api.request<{ checked: number; changed: unknown[]; errors: unknown[] }>('POST', '/billing/reconcile');

    expect(reconciled.status).toBe(200);
    expect(reconciled.body.changed).toContainEqual({ tenantId, from: 'active', to: 'suspended', action: 'suspend' });
    expect(reconciled.body.errors).toEqual([]);
    const { tenant, access, history } = await seen(tenantId);
    expect(tenant).toMatchObject({ state: 'suspended', version: 2 });
    expect(access).toMatchObject({ access: 'read_only', state: 'suspended' });
    expect(history[0]).toMatchObject({ event: 'suspend', from: 'active', to: 'suspended', actor: 'billing:reconcile' });

    const again = await api.request<{ changed: Array<{ tenantId: string }> }>('POST', '/billing/reconcile');
    expect(again.body.changed.map((change) => change.tenantId)).not.toContain(tenantId);
  });
});
