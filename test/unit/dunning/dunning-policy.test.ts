/**
 * The dunning ladder's decision (pure) and how an event names its subscription: every Stripe status, every
 * lifecycle state class (active, suspended by the ladder or by an operator, transitional, soft-deleted).
 */
import { SUBSCRIPTION_STATUSES } from '../../../functions/billing/billing-port';
import { DEFAULT_DUNNING_POLICY, decide, dunningNotice, pendingTimerAt, standingFor, timerAt, type TenantDunning } from '../../../functions/dunning/dunning-policy';
import { processStripeEvent, subscriptionOfEvent, type DunningDependencies, type StripeEventEnvelope } from '../../../functions/dunning/stripe-event-processor';
import { invoiceEvent, subscriptionEvent } from '../../support/stripe-events';

const NOW = new Date('2026-03-02T10:00:00Z');
const cause = { channel: 'webhook' as const, eventId: 'evt_1', eventType: 'invoice.payment_failed' };
const fact = (status: (typeof SUBSCRIPTION_STATUSES)[number] | undefined) => ({ subscriptionId: 'sub_1', status, cause });
const grace = (graceEndsAt: string): TenantDunning => ({ standing: 'grace', since: NOW.toISOString(), graceEndsAt, subscriptionId: 'sub_1', status: 'past_due', cause });
const suspendedByLadder = (deleteAt?: string): TenantDunning => ({ standing: 'suspended', since: NOW.toISOString(), subscriptionId: 'sub_1', status: 'unpaid', cause, ...(deleteAt ? { deleteAt } : {}) });

describe('standingFor', () => {
  it('should map every Stripe subscription status, and a missing subscription to canceled', () => {
    expect(Object.fromEntries(SUBSCRIPTION_STATUSES.map((status) => [status, standingFor(status)]))).toEqual({
      incomplete: 'pending', incomplete_expired: 'canceled', trialing: 'good', active: 'good', past_due: 'grace', canceled: 'canceled', unpaid: 'lapsed', paused: 'lapsed',
    });
    expect(standingFor(undefined)).toBe('canceled');
  });
});

describe('decide', () => {
  it('should start a 7-day grace for an active tenant whose subscription is past_due', () => {
    const action = decide({ state: 'active' }, fact('past_due'), NOW);
    expect(action).toMatchObject({ kind: 'start_grace', dunning: { standing: 'grace', graceEndsAt: '2026-03-09T10:00:00.000Z', subscriptionId: 'sub_1', cause } });
  });

  it('should suspend once the grace has ended, and not before', () => {
    expect(decide({ state: 'active', dunning: grace('2026-03-02T10:00:01Z') }, fact('past_due'), NOW)).toMatchObject({ kind: 'none' });
    expect(decide({ state: 'active', dunning: grace('2026-03-02T10:00:00Z') }, fact('past_due'), NOW)).toMatchObject({ kind: 'suspend', dunning: { standing: 'suspended' } });
  });

  it.each(['unpaid', 'paused', 'canceled', 'incomplete_expired', undefined] as const)('should suspend an active tenant at once for %p', (status) => {
    expect(decide({ state: 'active' }, fact(status), NOW)).toMatchObject({ kind: 'suspend' });
  });

  it('should schedule the soft delete of a canceled subscription only when configured', () => {
    const byDefault = decide({ state: 'active' }, fact('canceled'), NOW);
    expect(byDefault).toMatchObject({ kind: 'suspend', dunning: { standing: 'suspended', status: 'canceled' } });
    expect(byDefault.kind === 'suspend' && 'deleteAt' in byDefault.dunning).toBe(false);
    const policy = { ...DEFAULT_DUNNING_POLICY, deleteAfterCanceledDays: 10 };
    expect(decide({ state: 'active' }, fact('canceled'), NOW, policy)).toMatchObject({ kind: 'suspend', dunning: { deleteAt: '2026-03-12T10:00:00.000Z' } });
    expect(decide({ state: 'suspended', dunning: suspendedByLadder('2026-03-02T10:00:00Z') }, fact('canceled'), NOW, policy)).toMatchObject({ kind: 'soft_delete' });
    expect(decide({ state: 'suspended', dunning: suspendedByLadder('2026-03-02T10:00:01Z') }, fact('canceled'), NOW, policy)).toMatchObject({ kind: 'none' });
  });

  it('should resume only a tenant the ladder suspended', () => {
    expect(decide({ state: 'suspended', dunning: suspendedByLadder() }, fact('active'), NOW)).toMatchObject({ kind: 'resume' });
    expect(decide({ state: 'suspended' }, fact('active'), NOW)).toMatchObject({ kind: 'none', reason: expect.stringContaining('operator') });
    expect(decide({ state: 'suspended', dunning: grace('2026-03-09T10:00:00Z') }, fact('active'), NOW)).toMatchObject({ kind: 'end_grace' });
  });

  it('should resume into a new grace a tenant suspended for an unpaid subscription that is past_due again, whatever order its events came in', () => {
    // unpaid → paid → payment_failed in order ends in grace; delivered as unpaid → payment_failed (the paid late, stale), too.
    const lapsed = decide({ state: 'suspended', dunning: suspendedByLadder() }, fact('past_due'), NOW);
    expect(lapsed).toMatchObject({ kind: 'resume', dunning: { standing: 'grace', status: 'past_due', graceEndsAt: '2026-03-09T10:00:00.000Z' } });
    expect(timerAt(lapsed)).toEqual(new Date('2026-03-09T10:00:00.000Z'));
    // Suspended because a grace ended with the subscription still past_due: another past_due changes nothing.
    const afterGrace: TenantDunning = { ...suspendedByLadder(), status: 'past_due' };
    expect(decide({ state: 'suspended', dunning: afterGrace }, fact('past_due'), NOW)).toMatchObject({ kind: 'none' });
    // An operator's suspension is not lifted by a failing subscription either.
    expect(decide({ state: 'suspended' }, fact('past_due'), NOW)).toMatchObject({ kind: 'none' });
  });

  it('should end the grace when the subscription is active or trialing again, and do nothing for a tenant in good standing', () => {
    expect(decide({ state: 'active', dunning: grace('2026-03-09T10:00:00Z') }, fact('trialing'), NOW)).toMatchObject({ kind: 'end_grace' });
    expect(decide({ state: 'active' }, fact('active'), NOW)).toMatchObject({ kind: 'none' });
    expect(decide({ state: 'active' }, fact('incomplete'), NOW)).toMatchObject({ kind: 'none' });
  });

  it.each(['upgrading', 'downgrading', 'exporting', 'reactivating'] as const)('should defer for a tenant %s, and ignore billing for soft-deleted and deleted tenants', (state) => {
    expect(decide({ state }, fact('past_due'), NOW)).toMatchObject({ kind: 'defer', retryAt: new Date(NOW.getTime() + 900_000) });
    expect(decide({ state }, fact('active'), NOW)).toMatchObject({ kind: 'none' });
    expect(decide({ state: 'deleting' }, fact('canceled'), NOW)).toMatchObject({ kind: 'ignore' });
    expect(decide({ state: 'deleted' }, fact('past_due'), NOW)).toMatchObject({ kind: 'ignore' });
  });
});

describe('dunningNotice and pendingTimerAt', () => {
  it('should warn an active tenant in grace with its end, and nobody else', () => {
    expect(dunningNotice({ state: 'active', dunning: grace('2026-03-09T10:00:00.000Z') })).toMatchObject({ standing: 'grace', graceEndsAt: '2026-03-09T10:00:00.000Z', warning: expect.stringContaining('read_write until 2026-03-09T10:00:00.000Z') });
    expect(dunningNotice({ state: 'active' })).toBeUndefined();
    expect(dunningNotice({ state: 'suspended', dunning: suspendedByLadder() })).toBeUndefined();
    expect(pendingTimerAt({ state: 'active', dunning: grace('2026-03-09T10:00:00.000Z') })).toEqual(new Date('2026-03-09T10:00:00.000Z'));
    expect(pendingTimerAt({ state: 'suspended', dunning: suspendedByLadder('2026-04-01T00:00:00.000Z') })).toEqual(new Date('2026-04-01T00:00:00.000Z'));
    expect(pendingTimerAt({ state: 'suspended', dunning: suspendedByLadder() })).toBeUndefined();
  });
});

describe('subscriptionOfEvent', () => {
  it('should read the subscription where 2025-03-31.basil puts it, where older versions did, and expanded', () => {
    expect(subscriptionOfEvent(invoiceEvent('invoice.payment_failed', 'sub_new', { created: 1, shape: 'basil' }))).toEqual({ subscriptionId: 'sub_new', status: 'past_due' });
    expect(subscriptionOfEvent(invoiceEvent('invoice.paid', 'sub_old', { created: 1, shape: 'legacy' }))).toEqual({ subscriptionId: 'sub_old', status: 'active' });
    const expanded = invoiceEvent('invoice.payment_failed', 'sub_x', { created: 1 });
    const object = { ...expanded.data?.object, parent: { subscription_details: { subscription: { id: 'sub_expanded', object: 'subscription' } } } };
    expect(subscriptionOfEvent({ ...expanded, data: { object } })).toEqual({ subscriptionId: 'sub_expanded', status: 'past_due' });
  });

  it("should take a subscription event's status, canceled for a deleted one without status, none for a thin one", () => {
    expect(subscriptionOfEvent(subscriptionEvent('customer.subscription.updated', 'sub_1', { created: 1, status: 'unpaid' }))).toEqual({ subscriptionId: 'sub_1', status: 'unpaid' });
    expect(subscriptionOfEvent(subscriptionEvent('customer.subscription.deleted', 'sub_1', { created: 1, thin: true }))).toEqual({ subscriptionId: 'sub_1', status: 'canceled' });
    expect(subscriptionOfEvent(subscriptionEvent('customer.subscription.updated', 'sub_1', { created: 1, thin: true }))).toEqual({ subscriptionId: 'sub_1' });
    // A status this code does not know is not reported: the subscription is read instead.
    expect(subscriptionOfEvent(subscriptionEvent('customer.subscription.updated', 'sub_1', { created: 1, status: 'some_future_status' }))).toEqual({ subscriptionId: 'sub_1' });
  });

  it('should read a thin event by its related_object (a subscription), with an ISO 8601 created', async () => {
    const thin = { id: 'evt_thin', object: 'v2.core.event', type: 'customer.subscription.updated', created: '2026-03-02T10:00:00.000Z', related_object: { id: 'sub_thin', type: 'subscription', url: '/v1/subscriptions/sub_thin' } };
    expect(subscriptionOfEvent(thin as unknown as StripeEventEnvelope)).toEqual({ subscriptionId: 'sub_thin' });
    const thinInvoice = { ...thin, type: 'invoice.payment_failed', related_object: { id: 'in_1', type: 'invoice', url: '/v1/invoices/in_1' } };
    expect(subscriptionOfEvent(thinInvoice as unknown as StripeEventEnvelope)).toEqual({ status: 'past_due' });
    // Parsed, not refused: an ISO created is accepted, and with no tenant on the subscription the answer is `ignored` for that reason.
    const deps = { client: { send: async () => ({}) }, tableName: 't' } as unknown as DunningDependencies;
    await expect(processStripeEvent(thin as unknown as StripeEventEnvelope, { channel: 'webhook' }, deps)).resolves.toEqual({ result: 'ignored', reason: 'No tenant is billed on subscription sub_thin.' });
  });

  it('should not concern itself with other types, and find no subscription on an invoice without one', () => {
    expect(subscriptionOfEvent(subscriptionEvent('customer.created', 'cus_1', { created: 1 }))).toBeUndefined();
    expect(subscriptionOfEvent({ id: 'evt_1', type: 'invoice.payment_failed', created: 1, data: { object: { id: 'in_1', parent: null } } })).toEqual({ status: 'past_due' });
  });
});
