/**
 * Keys rotated in Secrets Manager reach warm containers (issue 13): the Stripe key (the REAL Stripe SDK against the
 * local fake Stripe server), the Pinecone key (the REAL Pinecone SDK against the in-process fake) and the Stripe
 * webhook signing secret, each read through Powertools Parameters' SecretsProvider (Secrets Manager mocked with
 * aws-sdk-client-mock). After a rotation a call refused for its key succeeds after exactly one re-read; a secret
 * older than its max age is read again without any failure; a key that is wrong before and after is the call's
 * error after one re-read, and refused calls do not re-read more than once per interval.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BillingRejectedError, type BillingPort } from '../../../functions/billing/billing-port';
import { SecretKeyStripeBilling } from '../../../functions/billing/secret-billing';
import { SECRET_FORCED_REFRESH_INTERVAL_SECONDS } from '../../../functions/shared/secret-value';
import { FakeStripeServer } from '../../support/fake-stripe-server';
import { FakePinecone } from '../../support/fake-pinecone';
import { publicApiEvent } from '../../support/events';
import { stripeSignature, subscriptionEvent } from '../../support/stripe-events';

type Ports = typeof import('../../../functions/workflows/ports');
type VectorStoreModule = typeof import('../../../functions/data-sources/pinecone-vector-store');
type Webhook = typeof import('../../../functions/dunning/handlers/stripe-webhook');
type Signature = typeof import('../../../functions/billing/stripe-webhook-signature');

const secrets = mockClient(SecretsManagerClient);
const saved = { ...process.env };
const MAX_AGE_SECONDS = 300;

/** The secret's value from now on, as a rotation (PutSecretValue, AWSCURRENT moved) leaves it. */
function secretHolds(value: string): void {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: value });
}

const reads = () => secrets.commandCalls(GetSecretValueCommand).length;

let now = 0;
/** Only Date is faked (the Powertools cache and the re-read interval read it); timers and I/O run for real. */
function advanceSeconds(seconds: number): void {
  now += seconds * 1000;
  jest.setSystemTime(now);
}

beforeEach(() => {
  secrets.reset();
  process.env = { ...saved, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };
  delete process.env.POWERTOOLS_PARAMETERS_MAX_AGE;
  jest.useFakeTimers({
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
  });
  now = Date.now();
  jest.setSystemTime(now);
});

afterEach(() => {
  jest.useRealTimers();
  process.env = { ...saved };
});

describe('Stripe key rotation (SecretKeyStripeBilling, the real Stripe SDK against the fake Stripe server)', () => {
  let stripe: FakeStripeServer;
  const ACCOUNT = { customerId: 'cus_rot', subscriptionId: 'sub_rot', subscriptionItemId: 'si_rot' };

  beforeAll(async () => {
    stripe = await FakeStripeServer.start();
  });
  afterAll(() => stripe.close());
  beforeEach(() => {
    stripe.reset();
    stripe.seedSubscription({ id: 'sub_rot', itemId: 'si_rot', priceId: 'price_starter', customerId: 'cus_rot', currentPeriodStart: 1_767_225_600, currentPeriodEnd: 1_769_904_000 });
  });

  function billing(): BillingPort {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createBillingPort } = require('../../../functions/billing') as typeof import('../../../functions/billing');
    return new SecretKeyStripeBilling({
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf',
      secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }),
      create: (stripeSecretKey) =>
        createBillingPort({ stripeSecretKey, priceIds: { starter: 'price_starter' }, client: undefined as never, tableName: 'unused', stripeApi: { host: '127.0.0.1', port: stripe.port, protocol: 'http' } }),
    });
  }
  const lookup = (port: BillingPort) => port.retrieveSubscription({ tenantId: 'acme', account: ACCOUNT });

  it('should re-read a rolled key exactly once when Stripe refuses the cached one (401), and make the call again with the new key', async () => {
    secretHolds('sk_test_old');
    stripe.acceptOnlyApiKey('sk_test_old');
    const port = billing();
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });

    secretHolds('sk_test_new');
    stripe.acceptOnlyApiKey('sk_test_new');
    advanceSeconds(60); // warm, well inside the cache's 5 minutes
    await expect(lookup(port)).resolves.toMatchObject({ subscriptionId: 'sub_rot', status: 'active' });
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });

    expect(reads()).toBe(2);
    expect(secrets.commandCalls(GetSecretValueCommand)[1]!.args[0].input).toEqual({ SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-AbCdEf' });
    expect(stripe.apiKeysUsed).toEqual(['sk_test_old', 'sk_test_old', 'sk_test_new', 'sk_test_new']);
  });

  it('should share one re-read among calls refused at the same time', async () => {
    secretHolds('sk_test_old');
    const port = billing();
    await lookup(port);
    secretHolds('sk_test_new');
    stripe.acceptOnlyApiKey('sk_test_new');

    await expect(Promise.all([lookup(port), lookup(port), lookup(port)])).resolves.toHaveLength(3);
    expect(reads()).toBe(2);
  });

  it('should read the key again once it is older than its max age (300 s by default), without a refused call', async () => {
    secretHolds('sk_test_old');
    const port = billing();
    await lookup(port);
    secretHolds('sk_test_new');
    advanceSeconds(MAX_AGE_SECONDS - 1);
    await lookup(port); // still the cached key
    expect(reads()).toBe(1);

    stripe.acceptOnlyApiKey('sk_test_new');
    advanceSeconds(2);
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });
    expect(reads()).toBe(2);
    expect(stripe.apiKeysUsed).toEqual(['sk_test_old', 'sk_test_old', 'sk_test_new']);
  });

  it('should keep the max age POWERTOOLS_PARAMETERS_MAX_AGE gives, in seconds', async () => {
    process.env.POWERTOOLS_PARAMETERS_MAX_AGE = '60';
    secretHolds('sk_test_old');
    const port = billing();
    await lookup(port);
    secretHolds('sk_test_new');
    stripe.acceptOnlyApiKey('sk_test_new');
    advanceSeconds(61);
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });
    expect(reads()).toBe(2);
    expect(stripe.apiKeysUsed).toEqual(['sk_test_old', 'sk_test_new']);
  });

  it('should answer the refusal after one re-read when the new key is wrong too, and not re-read again within the interval', async () => {
    // Revoked, and the value put in its place is wrong as well (a typo in the rotation).
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'sk_test_revoked' }).resolves({ SecretString: 'sk_test_typo' });
    stripe.acceptOnlyApiKey('sk_test_good');
    const port = billing();

    const refused = await lookup(port).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BillingRejectedError);
    expect((refused as Error).message).toMatch(/Stripe refused the configured API key/);
    expect(reads()).toBe(2);
    expect(stripe.requests).toHaveLength(2);

    await expect(lookup(port)).rejects.toBeInstanceOf(BillingRejectedError);
    expect(reads()).toBe(2); // the cached key, refused once: no second re-read inside the interval
    expect(stripe.requests).toHaveLength(3);

    advanceSeconds(SECRET_FORCED_REFRESH_INTERVAL_SECONDS + 1);
    secretHolds('sk_test_good');
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });
    expect(reads()).toBe(3);
  });

  it("should answer Stripe's refusal when the forced re-read itself fails (Secrets Manager unavailable), and read again next time", async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'sk_test_old' }).rejectsOnce(new Error('ThrottlingException')).resolves({ SecretString: 'sk_test_new' });
    stripe.acceptOnlyApiKey('sk_test_new');
    const port = billing();
    await expect(lookup(port)).rejects.toThrow(/Stripe refused the configured API key/);
    expect(reads()).toBe(2);
    advanceSeconds(SECRET_FORCED_REFRESH_INTERVAL_SECONDS + 1);
    await expect(lookup(port)).resolves.toMatchObject({ status: 'active' });
    expect(reads()).toBe(3);
  });

  it("should be the port's transient error when the secret holds no string (a binary secret)", async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(lookup(billing())).rejects.toThrow(/Could not read the Stripe key from Secrets Manager: Secret .* holds no Stripe key/);
  });

  it('should not re-read the key for an error that is not about the key', async () => {
    secretHolds('sk_test_old');
    const port = billing();
    stripe.once('GET', '/v1/subscriptions/:id', { status: 402, body: { error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' } } });
    await expect(lookup(port)).rejects.toBeInstanceOf(BillingRejectedError);
    expect(reads()).toBe(1);
  });
});

describe('Pinecone key rotation (configuredPineconeClient and the vector store, the real Pinecone SDK against the fake)', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinecone-AbCdEf';
  let fake: FakePinecone;

  /** The vector store as export-deps.ts builds it on AWS: fresh modules, the key from PINECONE_SECRET_ARN. */
  function vectorStore() {
    Object.assign(process.env, { TABLE_NAME: 'unused', PINECONE_SECRET_ARN: SECRET_ARN, PINECONE_REGION: 'eu-west-1' });
    delete process.env.PINECONE_API_KEY;
    let modules!: { ports: Ports; store: VectorStoreModule };
    jest.isolateModules(() => {
      modules = {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        ports: require('../../../functions/workflows/ports') as Ports,
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        store: require('../../../functions/data-sources/pinecone-vector-store') as VectorStoreModule,
      };
    });
    modules.ports.workflowPorts({ pineconeClient: async (options) => fake.client({ apiKey: options.apiKey as string }) });
    const pinecone = modules.ports.configuredPineconeClient((message) => new Error(`unavailable: ${message}`));
    return new modules.store.PineconeVectorStore({ pinecone: pinecone!, placementOf: async (tenantId) => ({ index: 'tenants-pooled', namespace: `tenant_${tenantId}` }) });
  }

  beforeEach(() => {
    fake = new FakePinecone();
    fake.createIndex('tenants-pooled', 4);
    fake.seed('tenants-pooled', 'tenant_acme', 3, 4);
  });

  it('should re-read a rotated key exactly once when Pinecone refuses the cached one (401), and make the call again with a client on the new key', async () => {
    secretHolds('pc-old');
    fake.acceptedApiKey = 'pc-old';
    const store = vectorStore();
    expect((await store.listIds('acme', { limit: 10 })).ids).toHaveLength(3);

    secretHolds('pc-new');
    fake.acceptedApiKey = 'pc-new';
    advanceSeconds(60);
    expect((await store.listIds('acme', { limit: 10 })).ids).toHaveLength(3);
    await store.upsert('acme', [{ id: 'doc-9999', values: [1, 2, 3, 4] }]);

    expect(reads()).toBe(2);
    expect(fake.vectors('tenants-pooled', 'tenant_acme')?.has('doc-9999')).toBe(true);
    // Refused once with the old key; every request since on the new one.
    const firstNew = fake.apiKeysUsed.indexOf('pc-new');
    expect(fake.apiKeysUsed.slice(0, firstNew).at(-1)).toBe('pc-old');
    expect(fake.apiKeysUsed.slice(firstNew).every((key) => key === 'pc-new')).toBe(true);
  });

  it('should read the key again once it is older than its max age, without a refused call', async () => {
    secretHolds('pc-old');
    const store = vectorStore();
    await store.listIds('acme', { limit: 10 });
    secretHolds('pc-new');
    fake.acceptedApiKey = 'pc-new';
    const before = fake.requests.length;

    advanceSeconds(MAX_AGE_SECONDS + 1);
    expect((await store.fetch('acme', ['doc-0000'])).map((vector) => vector.id)).toEqual(['doc-0000']);
    expect(reads()).toBe(2);
    expect(fake.apiKeysUsed.slice(before).every((key) => key === 'pc-new')).toBe(true);
  });

  it("should answer Pinecone's refusal after one re-read when the new key is wrong too", async () => {
    secrets.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'pc-revoked' }).resolves({ SecretString: 'pc-typo' });
    fake.acceptedApiKey = 'pc-good';
    const store = vectorStore();
    await expect(store.deleteAll('acme')).rejects.toMatchObject({ name: 'PineconeAuthorizationError' });
    expect(reads()).toBe(2);
    expect(fake.apiKeysUsed).toEqual(['pc-revoked', 'pc-typo']);
    expect(fake.vectors('tenants-pooled', 'tenant_acme')?.size).toBe(3);
  });
});

describe('Stripe webhook signing secret rotation (POST /webhooks/stripe with STRIPE_WEBHOOK_SECRET_ARN)', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-webhook-AbCdEf';
  let webhook: Webhook;
  let signature: Signature;
  const processed: string[] = [];

  beforeEach(() => {
    processed.length = 0;
    delete process.env.STRIPE_WEBHOOK_SECRET;
    process.env.STRIPE_WEBHOOK_SECRET_ARN = SECRET_ARN;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      webhook = require('../../../functions/dunning/handlers/stripe-webhook') as Webhook;
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      signature = require('../../../functions/billing/stripe-webhook-signature') as Signature;
    });
  });

  function deliver(secret: string) {
    const event = subscriptionEvent('customer.subscription.updated', 'sub_rot', { status: 'active', created: Math.floor(now / 1000) });
    const body = JSON.stringify(event);
    const request = publicApiEvent({ method: 'POST', route: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, { secret }) }, body: Buffer.from(body) });
    return webhook
      .receiveStripeWebhook(request, {
        signingSecret: signature.stripeWebhookSecret,
        process: async (received) => {
          processed.push(received.id);
          return { result: 'applied' } as Awaited<ReturnType<Parameters<Webhook['receiveStripeWebhook']>[1]['process']>>;
        },
      })
      .then(
        (result) => ({ status: result.statusCode, code: undefined as string | undefined }),
        (error: { code?: string }) => ({ status: error instanceof signature.StripeWebhookRefusedError ? 400 : 500, code: error.code }),
      );
  }

  it('should accept a delivery signed with the rolled secret after one re-read', async () => {
    secretHolds('whsec_old');
    expect(await deliver('whsec_old')).toEqual({ status: 200, code: undefined });
    secretHolds('whsec_new');
    advanceSeconds(60);

    expect(await deliver('whsec_new')).toEqual({ status: 200, code: undefined });
    expect(await deliver('whsec_new')).toEqual({ status: 200, code: undefined });
    expect(reads()).toBe(2);
    expect(processed).toHaveLength(3);
  });

  it('should refuse forged signatures as before, re-reading the secret at most once per interval', async () => {
    secretHolds('whsec_current');
    for (let i = 0; i < 5; i += 1) expect(await deliver('whsec_forged')).toEqual({ status: 400, code: 'STRIPE_SIGNATURE_INVALID' });
    expect(reads()).toBe(2); // the first read, and one forced re-read for the first mismatch
    expect(processed).toEqual([]);

    advanceSeconds(SECRET_FORCED_REFRESH_INTERVAL_SECONDS + 1);
    expect(await deliver('whsec_forged')).toEqual({ status: 400, code: 'STRIPE_SIGNATURE_INVALID' });
    expect(reads()).toBe(3);
    expect(await deliver('whsec_current')).toEqual({ status: 200, code: undefined });
    expect(reads()).toBe(3);
  });
});

describe('mapSecretBacked: a thing made from the secret-backed one (the Pinecone provisioner over its client)', () => {
  it('should make one thing per client, and make a new one with the client on the re-read key when the call is refused', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fromSecret, mapSecretBacked } = require('../../../functions/shared/secret-value') as typeof import('../../../functions/shared/secret-value');
    secretHolds('key-old');
    const client = fromSecret({
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:any-AbCdEf',
      secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }),
      holds: 'API key',
      build: (key) => ({ key }),
      unavailable: (message) => new Error(message),
      isAuthFailure: (error) => (error as Error).message === 'refused',
    });
    const make = jest.fn((made: { key: string }) => ({ provisionWith: made.key }));
    const provisioner = mapSecretBacked(client, make);
    expect(await provisioner()).toEqual({ provisionWith: 'key-old' });
    expect(await provisioner()).toBe(await provisioner());

    secretHolds('key-new');
    const used: string[] = [];
    const result = await provisioner.use(async (made) => {
      used.push(made.provisionWith);
      if (made.provisionWith === 'key-old') throw new Error('refused');
      return 'provisioned';
    });
    expect(result).toBe('provisioned');
    expect(used).toEqual(['key-old', 'key-new']);
    expect(make).toHaveBeenCalledTimes(2);
  });
});

describe('fromSecret: a build that fails', () => {
  it('should not keep a failed build: the next call builds again from the cached secret', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fromSecret } = require('../../../functions/shared/secret-value') as typeof import('../../../functions/shared/secret-value');
    secretHolds('key-1');
    const build = jest.fn().mockRejectedValueOnce(new Error('SDK not loaded')).mockResolvedValue({ client: 'made' });
    const client = fromSecret({ secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:any-AbCdEf', secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }), holds: 'API key', build, unavailable: (message) => new Error(message) });
    await expect(client()).rejects.toThrow('SDK not loaded');
    await expect(client()).resolves.toEqual({ client: 'made' });
    expect(build).toHaveBeenCalledTimes(2);
    expect(reads()).toBe(1);
  });
});
