/**
 * The per-caller rate limiter's requests and failure modes, DynamoDB mocked (aws-sdk-client-mock): whose bucket a
 * caller draws from, the exact UpdateItems (the only action it uses), what a route answers when DynamoDB throttles
 * the bucket (refused) or fails otherwise (let through, with a warning and a metric). The algorithm itself runs
 * against DynamoDB Local in test/integration/rate-limit/.
 */
import './../../support/log-level-info';
import { ConditionalCheckFailedException, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { config } from '../../../functions/shared/config';
import { apiRoute } from '../../../functions/shared/http/api-handler';
import { RATE_LIMIT_METRICS, RateLimitedError, enforceRateLimit, rateLimitBucketOf, takeToken } from '../../../functions/shared/http/rate-limit';
import { DEFAULT_RATE_LIMITS, RATE_LIMIT_VARIABLES, rateLimitEnvironment } from '../../../functions/shared/http/rate-limit-policy';
import { jsonResponse } from '../../../functions/shared/http/response';
import { applyLocalRateLimits, LOCAL_RATE_LIMITS } from '../../../infra/local/local-rate-limits';
import { captureLogs } from '../../support/captured-logs';
import { apiEvent } from '../../support/events';

const dynamo = mockClient(DynamoDBClient);
const logs = captureLogs();
afterAll(() => logs.restore());
beforeEach(() => {
  dynamo.reset();
  logs.clear();
});

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const deps = { client: new DynamoDBClient({}), tableName: 'lifecycle', now: () => new Date(NOW) };
const limits = { tenant: { perSecond: 2, burst: 3 }, operator: { perSecond: 5, burst: 10 } };
const tenantCaller = { role: 'tenant' as const, subject: 'app-client-1', tenantId: 'acme' };
const conditionFailed = (tat?: number) =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, ...(tat === undefined ? {} : { Item: { tat: { N: String(tat) } } }) });

describe('Function: rateLimitBucketOf', () => {
  it("should give every tenant-scoped caller of a tenant the tenant's bucket, whatever its subject", () => {
    const a = rateLimitBucketOf(tenantCaller, limits);
    expect(a).toEqual({ pk: 'RATE_LIMIT#tenant:acme', role: 'tenant', limit: limits.tenant });
    expect(rateLimitBucketOf({ ...tenantCaller, subject: 'app-client-2' }, limits).pk).toBe(a.pk);
    // On AWS the application plane's tokens of every tenant share one client id (`sub`): the tenant tells them apart.
    expect(rateLimitBucketOf({ ...tenantCaller, tenantId: 'acme-eu' }, limits).pk).toBe('RATE_LIMIT#tenant:acme-eu');
  });

  it("should give each operator a bucket of its own, keyed by a hash of the subject (bounded, no e-mail address in the table)", () => {
    const ana = rateLimitBucketOf({ role: 'operator', subject: 'ana@example.com' }, limits);
    expect(ana).toEqual({ pk: expect.stringMatching(/^RATE_LIMIT#operator:[\w-]{43}$/), role: 'operator', limit: limits.operator });
    expect(ana.pk).not.toContain('ana');
    expect(rateLimitBucketOf({ role: 'operator', subject: 'bo@example.com' }, limits).pk).not.toBe(ana.pk);
  });
});

describe('Function: takeToken', () => {
  const bucket = { pk: 'RATE_LIMIT#tenant:acme', limit: limits.tenant };

  it('should take an idle caller with one conditional UpdateItem setting tat and the TTL', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    expect(await takeToken(deps, bucket)).toEqual({ allowed: true });
    expect(dynamo.calls().map((call) => call.args[0].input)).toEqual([
      {
        TableName: 'lifecycle',
        Key: { pk: { S: 'RATE_LIMIT#tenant:acme' }, sk: { S: 'BUCKET' } },
        UpdateExpression: 'SET tat = :next, expiresAt = :expiresAt',
        ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
        // Interval 500 ms; the bucket is full again 3 intervals from now at the latest (1.5 s, rounded up to whole
        // seconds), and the item may go a second later.
        ExpressionAttributeValues: { ':next': { N: String(NOW + 500) }, ':now': { N: String(NOW) }, ':expiresAt': { N: String(NOW / 1000 + 3) } },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    ]);
  });

  it('should take a busy caller within its burst with a second UpdateItem that adds one interval to tat', async () => {
    dynamo.on(UpdateItemCommand).rejectsOnce(conditionFailed(NOW + 600)).resolves({});
    expect(await takeToken(deps, bucket)).toEqual({ allowed: true });
    expect(dynamo.calls()[1]?.args[0].input).toMatchObject({
      UpdateExpression: 'SET tat = tat + :interval, expiresAt = :expiresAt',
      ConditionExpression: 'tat <= :latest',
      ExpressionAttributeValues: { ':interval': { N: '500' }, ':latest': { N: String(NOW + 1000) } },
    });
  });

  it('should refuse a caller over its limit on the first answer, without a second call', async () => {
    dynamo.on(UpdateItemCommand).rejects(conditionFailed(NOW + 3200));
    // Back within the tolerance (2 intervals, 1000 ms) at tat - 1000: 2.2 s from now, 3 s rounded up.
    expect(await takeToken(deps, bucket)).toEqual({ allowed: false, retryAfterSeconds: 3 });
    expect(dynamo.calls()).toHaveLength(1);
  });

  it('should refuse when concurrent requests took the burst between the two calls, from the item the second returns', async () => {
    dynamo.on(UpdateItemCommand).rejectsOnce(conditionFailed(NOW + 900)).rejectsOnce(conditionFailed(NOW + 1500));
    expect(await takeToken(deps, bucket)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('should refuse for at least a second when the item was gone by the second call (no item returned)', async () => {
    dynamo.on(UpdateItemCommand).rejectsOnce(conditionFailed()).rejectsOnce(conditionFailed());
    expect(await takeToken(deps, bucket)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('should throw what DynamoDB throws on either call', async () => {
    const unavailable = Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
    dynamo.on(UpdateItemCommand).rejectsOnce(unavailable);
    await expect(takeToken(deps, bucket)).rejects.toBe(unavailable);
    dynamo.reset();
    dynamo.on(UpdateItemCommand).rejectsOnce(conditionFailed(NOW + 100)).rejectsOnce(unavailable);
    await expect(takeToken(deps, bucket)).rejects.toBe(unavailable);
  });
});

describe('Function: enforceRateLimit', () => {
  const enforce = () => enforceRateLimit({ ...deps, limits }, tenantCaller);

  it('should let a caller with a token through, refusing nothing and counting nothing', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      dynamo.on(UpdateItemCommand).resolves({});
      await expect(enforce()).resolves.toBeUndefined();
    } finally {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    expect(logs.entries().filter((entry) => RATE_LIMIT_METRICS.limited in entry || RATE_LIMIT_METRICS.failedOpen in entry)).toEqual([]);
  });

  it('should throw RateLimitedError with the limit, who shares it and the wait in its message', async () => {
    dynamo.on(UpdateItemCommand).rejects(conditionFailed(NOW + 3200));
    const refused = await enforce().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect(refused).toMatchObject({
      retryAfterSeconds: 3,
      message: "Too many requests: the limit for this tenant's callers (every tenant-scoped token of the tenant shares it) is 2 per second, in bursts of up to 3. Retry after 3 s (the Retry-After header), and spread requests out.",
    });
  });

  it.each(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded'])(
    'should refuse (Retry-After 1 s) when DynamoDB throttles the bucket item (%s): a flood is no way around the limit',
    async (name) => {
      dynamo.on(UpdateItemCommand).rejects(Object.assign(new Error('Rate exceeded'), { name }));
      await expect(enforce()).rejects.toMatchObject({ name: 'RateLimitedError', retryAfterSeconds: 1 });
    },
  );

  it('should let the request through when DynamoDB fails otherwise, with a warning and the RateLimiterFailures metric', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      dynamo.on(UpdateItemCommand).rejects(Object.assign(new Error('User is not authorized to perform: dynamodb:UpdateItem'), { name: 'AccessDeniedException' }));
      await expect(enforce()).resolves.toBeUndefined();
    } finally {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    const entries = logs.entries();
    expect(entries).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'Rate limiter failed: request let through', bucket: 'RATE_LIMIT#tenant:acme' }));
    expect(entries).toContainEqual(expect.objectContaining({ [RATE_LIMIT_METRICS.failedOpen]: 1, callerRole: 'tenant' }));
  });

  it('should count each refusal in the RateLimitedRequests metric, by caller role', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    try {
      dynamo.on(UpdateItemCommand).rejects(conditionFailed(NOW + 60_000));
      await expect(enforceRateLimit({ ...deps, limits }, { role: 'operator', subject: 'ana' })).rejects.toThrow('the limit for each operator is 5 per second, in bursts of up to 10');
    } finally {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    }
    expect(logs.entries()).toContainEqual(expect.objectContaining({ [RATE_LIMIT_METRICS.limited]: 1, callerRole: 'operator' }));
  });
});

describe('Function: apiRoute (rate limit)', () => {
  let ran = 0;
  const route = apiRoute({ routeId: 'Probe', access: 'operator', idempotent: true }, async () => {
    ran += 1;
    return jsonResponse(200, { ok: true });
  });
  const call = async (event: ReturnType<typeof apiEvent>) => {
    const response = await route(event, {} as Context);
    return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body as string) as unknown };
  };

  it('should answer 429 RATE_LIMITED with Retry-After before validation, idempotency and the function', async () => {
    dynamo.on(UpdateItemCommand).rejects(conditionFailed(Date.now() + 3_600_000));
    // A malformed Idempotency-Key and an unknown query parameter: the limit is checked before either.
    const event = apiEvent({ method: 'POST', route: '/probe', headers: { 'idempotency-key': 'has spaces' } });
    event.rawQueryString = 'unknown=1';
    event.queryStringParameters = { unknown: '1' };
    const answer = await call(event);
    expect(answer).toMatchObject({ status: 429, headers: { 'retry-after': expect.stringMatching(/^\d+$/) }, body: { error: { code: 'RATE_LIMITED' } } });
    expect(ran).toBe(0);
    // One UpdateItem, on the operator's bucket, in the configured table; nothing else was sent.
    expect(dynamo.calls().map((c) => c.args[0].constructor.name)).toEqual(['UpdateItemCommand']);
    expect(dynamo.calls()[0]?.args[0].input).toMatchObject({ TableName: config.tableName, Key: { pk: { S: expect.stringMatching(/^RATE_LIMIT#operator:/) } } });
  });

  it('should not take a token for a request without a principal (401 first)', async () => {
    const event = apiEvent({ method: 'POST', route: '/probe' });
    (event.requestContext as { authorizer?: unknown }).authorizer = undefined;
    expect(await call(event)).toMatchObject({ status: 401 });
    expect(dynamo.calls()).toHaveLength(0);
  });
});

describe('Rate limit settings', () => {
  it('should name every limit in the environment, and read them back as configured', () => {
    const environment = rateLimitEnvironment({ tenant: { perSecond: 0.5, burst: 4 }, operator: { perSecond: 30, burst: 60 } });
    expect(environment).toEqual({ RATE_LIMIT_TENANT_PER_SECOND: '0.5', RATE_LIMIT_TENANT_BURST: '4', RATE_LIMIT_OPERATOR_PER_SECOND: '30', RATE_LIMIT_OPERATOR_BURST: '60' });
    const saved = { ...process.env };
    try {
      Object.assign(process.env, environment);
      expect(config.rateLimits).toEqual({ tenant: { perSecond: 0.5, burst: 4 }, operator: { perSecond: 30, burst: 60 } });
      for (const name of Object.keys(environment)) delete process.env[name];
      expect(config.rateLimits).toEqual(DEFAULT_RATE_LIMITS);
      process.env[RATE_LIMIT_VARIABLES.tenant.burst] = '2.5';
      expect(() => config.rateLimits).toThrow("Environment variable RATE_LIMIT_TENANT_BURST must be a positive integer, got '2.5'.");
      process.env[RATE_LIMIT_VARIABLES.tenant.burst] = '4';
      process.env[RATE_LIMIT_VARIABLES.tenant.perSecond] = '0';
      expect(() => config.rateLimits).toThrow("Environment variable RATE_LIMIT_TENANT_PER_SECOND must be a positive number, got '0'.");
    } finally {
      process.env = saved;
    }
  });

  it('should keep the deployed defaults under the API Gateway stage throttle (50 rps, bursts of 100), and the local ones far above them', () => {
    for (const role of ['tenant', 'operator'] as const) {
      expect(DEFAULT_RATE_LIMITS[role].perSecond).toBeLessThan(50);
      expect(DEFAULT_RATE_LIMITS[role].burst).toBeLessThan(100);
      expect(LOCAL_RATE_LIMITS[role].perSecond).toBeGreaterThan(DEFAULT_RATE_LIMITS[role].perSecond * 10);
    }
    expect(DEFAULT_RATE_LIMITS.operator.perSecond).toBeGreaterThan(DEFAULT_RATE_LIMITS.tenant.perSecond);
  });

  it("should set the local limits where they are unset, and leave a user's own alone", () => {
    const env: NodeJS.ProcessEnv = { RATE_LIMIT_TENANT_PER_SECOND: '3' };
    applyLocalRateLimits(env);
    expect(env).toEqual({ ...rateLimitEnvironment(LOCAL_RATE_LIMITS), RATE_LIMIT_TENANT_PER_SECOND: '3' });
  });
});
