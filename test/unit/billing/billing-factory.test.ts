import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createBillingPort } from '../../../functions/billing';
import { logger } from '../../../functions/shared/powertools';
import { acmeUpgrade } from '../../support/billing-requests';
import { FakeStripeServer } from '../../support/fake-stripe-server';
import { countLoads } from '../../support/module-loads';

const PRICE_IDS = { starter: 'price_starter', professional: 'price_professional', enterprise: 'price_enterprise' };
const UPGRADE = acmeUpgrade('op-factory-1');

describe('Function: createBillingPort', () => {
  let fake: FakeStripeServer;
  // Never called by these tests: the ledger is only built, and the closed loopback port keeps any slip local.
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }));

  beforeAll(async () => {
    fake = await FakeStripeServer.start();
  });

  afterAll(async () => {
    client.destroy();
    await fake.close();
  });

  beforeEach(() => {
    fake.reset();
    fake.seedSubscription({ id: 'sub_acme', itemId: 'si_acme', priceId: 'price_starter', currentPeriodStart: 1_793_491_200, currentPeriodEnd: 1_796_083_200 });
  });

  afterEach(() => jest.restoreAllMocks());

  it('should bill through Stripe with the configured key and API address when a key is given, and log it', async () => {
    // Prepare
    const info = jest.spyOn(logger, 'info');

    // Act
    const port = createBillingPort({
      stripeSecretKey: 'sk_test_factory',
      priceIds: PRICE_IDS,
      client,
      tableName: 'lifecycle',
      stripeApi: { host: '127.0.0.1', port: fake.port, protocol: 'http' },
    });
    await port.previewPlanChange(UPGRADE);

    // Assess
    expect(port.name).toBe('stripe');
    expect(fake.requests.map((request) => request.path)).toEqual(['/v1/subscriptions/sub_acme', '/v1/invoices/create_preview']);
    for (const request of fake.requests) expect(request.headers.authorization).toBe('Bearer sk_test_factory');
    expect(info).toHaveBeenCalledWith('Billing through Stripe', expect.objectContaining({ billingAdapter: 'stripe', stripeHost: '127.0.0.1', plansWithoutPrice: ['free'] }));
  });

  it('should bill through Stripe’s own API address when none is configured, and log it', async () => {
    // Prepare
    const info = jest.spyOn(logger, 'info');

    // Act: the SDK is built on this first call; a change to the same plan needs no request, so nothing leaves the machine
    const port = createBillingPort({ stripeSecretKey: 'sk_test_factory', priceIds: PRICE_IDS, client, tableName: 'lifecycle' });
    const preview = await port.previewPlanChange({ ...UPGRADE, toPlan: 'starter' });

    // Assess
    expect(port.name).toBe('stripe');
    expect(preview).toMatchObject({ source: 'stripe', amountDueNow: 0 });
    expect(info).toHaveBeenCalledWith('Billing through Stripe', expect.objectContaining({ billingAdapter: 'stripe', stripeHost: 'api.stripe.com' }));
  });

  it('should load the Stripe SDK only when the first call needs it, not when the port is built (cold start)', async () => {
    await jest.isolateModulesAsync(async () => {
      // Prepare: count the loads of the SDK in a fresh module registry
      const loads = countLoads('stripe');
      const billing = jest.requireActual<typeof import('../../../functions/billing')>('../../../functions/billing');

      // Act
      const port = billing.createBillingPort({
        stripeSecretKey: 'sk_test_factory',
        priceIds: PRICE_IDS,
        client,
        tableName: 'lifecycle',
        stripeApi: { host: '127.0.0.1', port: fake.port, protocol: 'http' },
      });
      const loadsBeforeFirstCall = loads();
      const preview = await port.previewPlanChange(UPGRADE);
      await port.previewPlanChange(UPGRADE);

      // Assess
      expect([loadsBeforeFirstCall, loads()]).toEqual([0, 1]);
      expect(port.name).toBe('stripe');
      expect(preview.source).toBe('stripe');
      expect(fake.requests.map((request) => request.path)).toEqual([
        '/v1/subscriptions/sub_acme',
        '/v1/invoices/create_preview',
        '/v1/subscriptions/sub_acme',
        '/v1/invoices/create_preview',
      ]);
    });
  });

  it.each([
    { what: 'no key', stripeSecretKey: undefined },
    { what: 'an empty key', stripeSecretKey: '' },
  ])('should fall back to the local ledger with $what, and warn that nobody is charged', ({ stripeSecretKey }) => {
    // Prepare
    const warn = jest.spyOn(logger, 'warn');

    // Act
    const port = createBillingPort({ stripeSecretKey, priceIds: PRICE_IDS, client, tableName: 'lifecycle', stripeApi: { host: '127.0.0.1', port: fake.port, protocol: 'http' } });

    // Assess
    expect(port.name).toBe('local-ledger');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('local ledger'), expect.objectContaining({ billingAdapter: 'local-ledger' }));
    expect(fake.requests).toHaveLength(0);
  });
});
