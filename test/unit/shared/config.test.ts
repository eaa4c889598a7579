/**
 * Configuration from the environment: what a deployment that forgets or mistypes a variable is told, and the
 * defaults it gets. Each case loads the module afresh under its own environment.
 */
import { scheduleTargetVariable } from '../../../functions/scheduler/scheduler-port';
import type { Config } from '../../../functions/shared/config';

const saved = { ...process.env };

function load(env: Record<string, string | undefined>): Config {
  process.env = { ...saved };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let loaded: Config | undefined;
  jest.isolateModules(() => {
    loaded = (jest.requireActual('../../../functions/shared/config') as { config: Config }).config;
  });
  return loaded as Config;
}

afterEach(() => {
  process.env = { ...saved };
});

describe('config', () => {
  it('should name a required variable that is missing or empty when it is read', () => {
    expect(() => load({ TABLE_NAME: undefined }).tableName).toThrow('Environment variable TABLE_NAME is required but not set.');
    expect(() => load({ TABLE_NAME: '' }).tableName).toThrow(/TABLE_NAME is required/);
    expect(load({ TABLE_NAME: 'tenants' }).tableName).toBe('tenants');
  });

  it.each(['abc', '0', '-5', '1.5'])('should refuse IDEMPOTENCY_TTL_SECONDS=%p at start-up, saying what it must be', (raw) => {
    expect(() => load({ IDEMPOTENCY_TTL_SECONDS: raw })).toThrow(`Environment variable IDEMPOTENCY_TTL_SECONDS must be a positive integer, got '${raw}'.`);
  });

  it("should sign S3 requests with the local S3 server's own key only where an S3 endpoint is set and both parts of it are", () => {
    const key = { S3_LOCAL_ACCESS_KEY_ID: 'LOCALS3KEY', S3_LOCAL_SECRET_ACCESS_KEY: 'secret' };
    expect(load({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569', AWS_ENDPOINT_URL: undefined, ...key }).s3Credentials).toEqual({ accessKeyId: 'LOCALS3KEY', secretAccessKey: 'secret' });
    // On AWS (no endpoint) the function's role signs, whatever the environment says.
    expect(load({ AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, ...key }).s3Credentials).toBeUndefined();
    // LocalStack (no local key): the SDK's default chain.
    expect(load({ AWS_ENDPOINT_URL_S3: 'http://localhost:4566', S3_LOCAL_ACCESS_KEY_ID: 'LOCALS3KEY', S3_LOCAL_SECRET_ACCESS_KEY: undefined }).s3Credentials).toBeUndefined();
  });

  it('should read a Stripe price per plan, the free plan’s too (a $0 price bills free tenants in Stripe), and none when unset', () => {
    const priced = load({ STRIPE_PRICE_FREE: 'price_free_zero', STRIPE_PRICE_STARTER: 'price_starter', STRIPE_PRICE_PROFESSIONAL: undefined, STRIPE_PRICE_ENTERPRISE: undefined });
    expect(priced.stripePriceIds).toEqual({ free: 'price_free_zero', starter: 'price_starter', professional: undefined, enterprise: undefined });
    expect(load({ STRIPE_PRICE_FREE: undefined }).stripePriceIds.free).toBeUndefined();
  });

  it('should default to a 24-hour idempotency window, 64 KiB bodies and us-east-1', () => {
    const config = load({ IDEMPOTENCY_TTL_SECONDS: undefined, MAX_BODY_BYTES: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
    expect(config).toMatchObject({ idempotencyTtlSeconds: 86_400, maxBodyBytes: 65_536, region: 'us-east-1' });
    expect(load({ AWS_REGION: undefined, AWS_DEFAULT_REGION: 'eu-west-1' }).region).toBe('eu-west-1');
    expect(load({ MAX_BODY_BYTES: '1024' }).maxBodyBytes).toBe(1024);
  });

  it('should cap live query leases per tenant at 100 by default, read MAX_LIVE_LEASES_PER_TENANT on use, and refuse a value that is not a whole number from 1 to 1000', () => {
    expect(load({ MAX_LIVE_LEASES_PER_TENANT: undefined }).maxLiveLeasesPerTenant).toBe(100);
    expect(load({ MAX_LIVE_LEASES_PER_TENANT: '5' }).maxLiveLeasesPerTenant).toBe(5);
    const config = load({ MAX_LIVE_LEASES_PER_TENANT: '0' });
    expect(() => config.maxLiveLeasesPerTenant).toThrow("Environment variable MAX_LIVE_LEASES_PER_TENANT must be a positive integer, got '0'.");
    expect(load({ MAX_LIVE_LEASES_PER_TENANT: '1000' }).maxLiveLeasesPerTenant).toBe(1000);
    expect(() => load({ MAX_LIVE_LEASES_PER_TENANT: '1001' }).maxLiveLeasesPerTenant).toThrow("Environment variable MAX_LIVE_LEASES_PER_TENANT must be at most 1000, got '1001'.");
  });

  it('should prefer a service endpoint override to the global one', () => {
    const config = load({ AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000', AWS_ENDPOINT_URL_SFN: undefined });
    expect(config.dynamoDbEndpoint).toBe('http://127.0.0.1:8000');
    expect(config.stepFunctionsEndpoint).toBe('http://127.0.0.1:4566');
  });

  describe('pinecone', () => {
    it('should be off without a key or a secret', () => {
      expect(load({ PINECONE_API_KEY: undefined, PINECONE_SECRET_ARN: undefined }).pinecone).toBeUndefined();
    });

    it('should need a region with a key, and default the dimension to 1536', () => {
      expect(() => load({ PINECONE_API_KEY: 'pc-key', PINECONE_REGION: undefined }).pinecone).toThrow(/PINECONE_REGION is required/);
      expect(load({ PINECONE_API_KEY: 'pc-key', PINECONE_REGION: 'us-east-1', PINECONE_DIMENSION: undefined }).pinecone).toEqual({
        apiKey: 'pc-key',
        secretArn: undefined,
        region: 'us-east-1',
        dimension: 1536,
        controllerUrl: undefined,
      });
    });

    it('should take a secret ARN, a dimension and a controller URL', () => {
      const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone-AbCdEf';
      expect(load({ PINECONE_API_KEY: undefined, PINECONE_SECRET_ARN: secretArn, PINECONE_REGION: 'eu-west-1', PINECONE_DIMENSION: '768', PINECONE_CONTROLLER_URL: 'http://127.0.0.1:5081' }).pinecone).toEqual({
        apiKey: undefined,
        secretArn,
        region: 'eu-west-1',
        dimension: 768,
        controllerUrl: 'http://127.0.0.1:5081',
      });
      expect(() => load({ PINECONE_API_KEY: 'k', PINECONE_REGION: 'us-east-1', PINECONE_DIMENSION: 'wide' }).pinecone).toThrow(/PINECONE_DIMENSION must be a positive integer, got 'wide'/);
    });
  });

  describe('dunning', () => {
    it('should default to 7 days of grace, no soft delete after a cancellation, a 15-minute re-look at busy tenants', () => {
      expect(load({ DUNNING_GRACE_DAYS: undefined, DUNNING_DELETE_AFTER_CANCELED_DAYS: undefined, DUNNING_BUSY_RETRY_SECONDS: undefined }).dunning).toEqual({ graceDays: 7, deleteAfterCanceledDays: undefined, busyRetrySeconds: 900 });
    });

    it('should read each setting, and refuse one that is not a positive integer, naming it', () => {
      expect(load({ DUNNING_GRACE_DAYS: '14', DUNNING_DELETE_AFTER_CANCELED_DAYS: '30', DUNNING_BUSY_RETRY_SECONDS: '60' }).dunning).toEqual({ graceDays: 14, deleteAfterCanceledDays: 30, busyRetrySeconds: 60 });
      expect(() => load({ DUNNING_GRACE_DAYS: '0' }).dunning).toThrow("Environment variable DUNNING_GRACE_DAYS must be a positive integer, got '0'.");
      expect(() => load({ DUNNING_DELETE_AFTER_CANCELED_DAYS: 'never' }).dunning).toThrow(/DUNNING_DELETE_AFTER_CANCELED_DAYS must be a positive integer/);
    });
  });

  describe('scheduler', () => {
    it('should be the local scheduler without a group name', () => {
      expect(load({ SCHEDULER_GROUP_NAME: undefined }).scheduler).toBeUndefined();
    });

    it('should need the role and dead-letter ARNs with a group name', () => {
      expect(() => load({ SCHEDULER_GROUP_NAME: 'g', SCHEDULER_ROLE_ARN: undefined }).scheduler).toThrow(/SCHEDULER_ROLE_ARN is required/);
      expect(() => load({ SCHEDULER_GROUP_NAME: 'g', SCHEDULER_ROLE_ARN: 'arn:role', SCHEDULER_DEAD_LETTER_ARN: undefined }).scheduler).toThrow(/SCHEDULER_DEAD_LETTER_ARN is required/);
    });

    it('should read each target’s ARN from its variable', () => {
      const config = load({
        SCHEDULER_GROUP_NAME: 'TenantLifecycle-schedules',
        SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/scheduler',
        SCHEDULER_DEAD_LETTER_ARN: 'arn:aws:sqs:us-east-1:123456789012:dlq',
        [scheduleTargetVariable('plan-change.period-end')]: 'arn:aws:lambda:us-east-1:123456789012:function:period-end',
        AWS_ENDPOINT_URL_SCHEDULER: 'http://127.0.0.1:4566',
      });
      expect(config.scheduler).toMatchObject({
        groupName: 'TenantLifecycle-schedules',
        roleArn: 'arn:aws:iam::123456789012:role/scheduler',
        deadLetterArn: 'arn:aws:sqs:us-east-1:123456789012:dlq',
        endpoint: 'http://127.0.0.1:4566',
        targetArns: { 'plan-change.period-end': 'arn:aws:lambda:us-east-1:123456789012:function:period-end' },
      });
      expect(scheduleTargetVariable('plan-change.period-end')).toBe('SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN');
    });
  });
});
