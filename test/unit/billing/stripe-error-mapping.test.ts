/**
 * Which Stripe failures a plan change retries (BillingTransientError: the ASL retries the step with the same
 * idempotency keys) and which roll it back (BillingRejectedError), including the ones the SDK has no class for,
 * and what an operator reads when the stored billing account no longer matches Stripe.
 */
import Stripe from 'stripe';
import { BillingRejectedError, BillingTransientError } from '../../../functions/billing/billing-port';
import { StripeBilling, toBillingError } from '../../../functions/billing/stripe-billing';
import { acmeUpgrade } from '../../support/billing-requests';
import { FakeStripeServer } from '../../support/fake-stripe-server';

const UPGRADE = acmeUpgrade('op-upgrade-1');
const apiError = (statusCode: number | undefined) => new Stripe.errors.StripeAPIError({ type: 'api_error', message: `answered ${statusCode ?? 'nothing'}`, statusCode });

describe('toBillingError', () => {
  it('should hand back an error that is not Stripe\'s unchanged (ours: not retried as billing, not hidden)', () => {
    const ours = new TypeError('cannot read properties of undefined');
    expect(toBillingError(ours, UPGRADE, 'invoice the upgrade')).toBe(ours);
  });

  it.each<[string, Stripe.errors.StripeError]>([
    ['a 500', apiError(500)],
    ['a 503', apiError(503)],
    ['a 409 (the same idempotency key still running)', apiError(409)],
    ['no status at all', apiError(undefined)],
  ])('should retry a Stripe error without a class of its own that is %s', (_case, error) => {
    const mapped = toBillingError(error, UPGRADE, 'invoice the upgrade') as Error;
    expect(mapped).toBeInstanceOf(BillingTransientError);
    expect(mapped.message).toBe(`Stripe failed; tenant 'acme-corp' (operation op-upgrade-1) could not invoice the upgrade: ${error.message}`);
    expect(mapped.cause).toBe(error);
  });

  it.each([400, 402, 404, 422])('should roll back on a Stripe error without a class of its own that is a %i', (status) => {
    const mapped = toBillingError(apiError(status), UPGRADE, 'invoice the upgrade') as Error;
    expect(mapped).toBeInstanceOf(BillingRejectedError);
    expect(mapped.message).toMatch(/^Stripe rejected the request; tenant 'acme-corp' \(operation op-upgrade-1\) could not invoice the upgrade/);
  });

  it.each([
    ['an authentication error', new Stripe.errors.StripeAuthenticationError({ type: 'authentication_error', message: 'Invalid API Key provided' })],
    ['a permission error', new Stripe.errors.StripePermissionError({ type: 'invalid_request_error', message: 'The provided key does not have access' })],
  ])('should roll back on %s, blaming the configured key', (_case, error) => {
    const mapped = toBillingError(error, UPGRADE, 'invoice the upgrade') as Error;
    expect(mapped).toBeInstanceOf(BillingRejectedError);
    expect(mapped.message).toMatch(/^Stripe refused the configured API key; /);
  });
});

describe('StripeBilling: a stored account that no longer matches Stripe', () => {
  let fake: FakeStripeServer;
  beforeAll(async () => {
    fake = await FakeStripeServer.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('should refuse, naming the subscription and the missing item, when the subscription item was replaced in Stripe', async () => {
    fake.seedSubscription({ id: 'sub_acme', itemId: 'si_replaced', customerId: 'cus_acme', priceId: 'price_starter', currentPeriodStart: 1_793_491_200, currentPeriodEnd: 1_796_083_200 });
    const billing = new StripeBilling({ stripe: fake.stripeClient(), priceIds: { starter: 'price_starter', professional: 'price_professional' }, now: () => new Date('2026-11-11T00:00:00Z') });

    const refused = await billing.applyPlanChange(UPGRADE).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(BillingRejectedError);
    expect((refused as Error).message).toBe("Subscription sub_acme of tenant 'acme-corp' has no item si_acme.");
    expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /v1/subscriptions/sub_acme']); // read only: nothing changed
  });
});
