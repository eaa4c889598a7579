/**
 * Per-caller rate limit for the HTTPS API (issue 13): HTTP APIs have no usage plans, and the stage's throttle is
 * one limit shared by every caller, so one tenant's token could exhaust a route for all tenants. Each caller has a
 * bucket item in the lifecycle table, in a partition of its own, and every authenticated request takes a token
 * from it (apiRoute, after authentication and before anything else): one bucket per caller across all routes.
 *
 * Who a caller is: every tenant-scoped token of one tenant shares the tenant's bucket (on AWS the application
 * plane's tokens all come from one app client, so they share one `sub`: keying on the subject alone would put
 * every tenant in one bucket, and keying on the subject within the tenant would let a tenant with more clients
 * take more); each operator (token subject) has one. So tenant A at its limit is refused, and tenant B is not.
 *
 * The algorithm is GCRA (the generic cell rate algorithm, ITU-T I.371; a token bucket's behaviour stated as one
 * number): the bucket item holds `tat`, the theoretical arrival time in ms. With the emission interval
 * T = 1000 / perSecond and the tolerance (burst − 1) · T, a request at `now` is allowed when
 * tat − now ≤ (burst − 1) · T, and then tat becomes max(tat, now) + T. DynamoDB has no max() in an update, so:
 *  1. `SET tat = now + T` if the caller is idle (no item, or tat ≤ now): one call for an idle caller;
 *  2. else `SET tat = tat + T` if tat ≤ now + (burst − 1) · T: the second call of a busy caller.
 * Each is one conditional UpdateItem, atomic on the item, so concurrent requests never pass more than `burst`.
 * The first call's failure returns the item (ReturnValuesOnConditionCheckFailure), so a caller over its limit
 * costs one call, and its `Retry-After` is when tat − now will be back within the tolerance. UpdateItem is the
 * only action on these items (the IAM grants name exactly it, on `RATE_LIMIT#*`). `expiresAt` (the table's TTL)
 * is set past the moment the bucket is full again, when the item says nothing a missing one would not.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Principal } from '../../auth/jwt-claims';
import * as clock from '../clock';
import { registerHttpError } from '../error-catalogue';
import { MetricUnit, logger, publishMetrics } from '../powertools';
import { RATE_LIMIT_PK_PREFIX, RATE_LIMIT_SK, type RateLimit, type RateLimits } from './rate-limit-policy';

export { RATE_LIMIT_PK_PREFIX, RATE_LIMIT_SK } from './rate-limit-policy';

/** Metric names (CloudWatch, dimension `callerRole`): requests refused with 429, and limiter failures let through. */
export const RATE_LIMIT_METRICS = { limited: 'RateLimitedRequests', failedOpen: 'RateLimiterFailures' } as const;

/** DynamoDB's own throttling of the bucket item: the caller is sending more than the item can take. */
const THROTTLING_ERRORS = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

/** A caller's bucket: its partition key and the limit that applies to it. */
export interface RateLimitBucket {
  readonly pk: string;
  readonly role: Principal['role'];
  readonly limit: RateLimit;
}

/**
 * The bucket `principal` draws from: `RATE_LIMIT#tenant:<tenantId>` for every tenant-scoped caller of the tenant,
 * `RATE_LIMIT#operator:<SHA-256 of the subject, base64url>` for an operator (a key of bounded length that does
 * not spell the operator's e-mail address into the table).
 */
export function rateLimitBucketOf(principal: Principal, limits: RateLimits): RateLimitBucket {
  if (principal.role === 'tenant') return { pk: `${RATE_LIMIT_PK_PREFIX}tenant:${principal.tenantId as string}`, role: 'tenant', limit: limits.tenant };
  const subject = createHash('sha256').update(principal.subject, 'utf8').digest('base64url');
  return { pk: `${RATE_LIMIT_PK_PREFIX}operator:${subject}`, role: 'operator', limit: limits.operator };
}

/** What the limiter decided for one request. */
export type RateLimitDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface RateLimiterDependencies {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Defaults to the one clock (functions/shared/clock.ts). */
  readonly now?: () => Date;
}

/** Whole seconds to wait until `ms` from now, at least 1 (Retry-After is delta-seconds, RFC 9110 10.2.3). */
function secondsUntil(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The `tat` of a conditional failure's returned item; undefined when the item was not there. */
function tatOf(error: ConditionalCheckFailedException): number | undefined {
  const tat = (error.Item as Record<string, AttributeValue> | undefined)?.tat?.N;
  return tat === undefined ? undefined : Number(tat);
}

/**
 * Take one token from `bucket` at the clock's now: allowed, or refused with the whole seconds (at least 1) until a
 * request would be allowed. One UpdateItem for an idle caller or one over its limit, two for one within its
 * burst. Throws what DynamoDB throws, but ConditionalCheckFailedException.
 */
export async function takeToken(deps: RateLimiterDependencies, bucket: Pick<RateLimitBucket, 'pk' | 'limit'>): Promise<RateLimitDecision> {
  const now = clock.nowOf(deps).getTime();
  const interval = 1000 / bucket.limit.perSecond;
  const tolerance = (bucket.limit.burst - 1) * interval;
  // Past this, tat ≤ now again: the bucket is full and the item can go (DynamoDB TTL, seconds).
  const expiresAt = { N: String(Math.ceil((now + bucket.limit.burst * interval) / 1000) + 1) };
  const update = (expression: string, condition: string, values: Record<string, AttributeValue>) =>
    new UpdateItemCommand({
      TableName: deps.tableName,
      Key: { pk: { S: bucket.pk }, sk: { S: RATE_LIMIT_SK } },
      UpdateExpression: expression,
      ConditionExpression: condition,
      ExpressionAttributeValues: { ...values, ':expiresAt': expiresAt },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  try {
    await deps.client.send(update('SET tat = :next, expiresAt = :expiresAt', 'attribute_not_exists(tat) OR tat <= :now', { ':next': { N: String(now + interval) }, ':now': { N: String(now) } }));
    return { allowed: true };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // The condition failed, so the item is there with tat > now: over the tolerance, refused without a second call.
    const tat = tatOf(error);
    if (tat !== undefined && tat - now > tolerance) return { allowed: false, retryAfterSeconds: secondsUntil(tat - tolerance - now) };
  }
  try {
    await deps.client.send(update('SET tat = tat + :interval, expiresAt = :expiresAt', 'tat <= :latest', { ':interval': { N: String(interval) }, ':latest': { N: String(now + tolerance) } }));
    return { allowed: true };
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    // Concurrent requests took the burst in between (or the item went: a request a second from now will find it idle).
    const tat = tatOf(error) ?? now + tolerance;
    return { allowed: false, retryAfterSeconds: secondsUntil(tat - tolerance - now) };
  }
}

/** 429 RATE_LIMITED: the caller sent more than its limit; `retryAfterSeconds` is the Retry-After header. */
export class RateLimitedError extends Error {
  readonly retryAfterSeconds: number;

  constructor(bucket: Pick<RateLimitBucket, 'role' | 'limit'>, retryAfterSeconds: number) {
    const who = bucket.role === 'tenant' ? "this tenant's callers (every tenant-scoped token of the tenant shares it)" : 'each operator';
    super(
      `Too many requests: the limit for ${who} is ${bucket.limit.perSecond} per second, in bursts of up to ${bucket.limit.burst}. ` +
        `Retry after ${retryAfterSeconds} s (the Retry-After header), and spread requests out.`,
    );
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

registerHttpError(RateLimitedError, {
  status: 429,
  code: () => 'RATE_LIMITED',
  headers: (error) => ({ 'retry-after': String(error.retryAfterSeconds) }),
});

/**
 * Take a token for `principal`'s request, or throw RateLimitedError (429 RATE_LIMITED with Retry-After).
 *
 * When DynamoDB throttles the bucket item itself, the caller is refused too (Retry-After 1 s): the item takes
 * about a thousand writes a second, and a caller that reaches that is far over any limit; letting it through
 * would make a flood its own way around the limiter. Any other failure (DynamoDB unreachable, a missing grant)
 * lets the request through, with a warning and the RateLimiterFailures metric to alarm on: the limiter shares
 * capacity fairly, it decides nothing about who may do what (authentication, route access and IAM still do), so
 * its failure should not take the API down; the API Gateway stage throttle stays the ceiling meanwhile.
 */
export async function enforceRateLimit(deps: RateLimiterDependencies & { readonly limits: RateLimits }, principal: Principal): Promise<void> {
  const bucket = rateLimitBucketOf(principal, deps.limits);
  let decision: RateLimitDecision;
  try {
    decision = await takeToken(deps, bucket);
  } catch (error) {
    if (THROTTLING_ERRORS.has((error as Error).name)) {
      decision = { allowed: false, retryAfterSeconds: 1 };
    } else {
      logger.warn('Rate limiter failed: request let through', { bucket: bucket.pk, error });
      publishMetrics([{ callerRole: bucket.role }], [{ name: RATE_LIMIT_METRICS.failedOpen, unit: MetricUnit.Count, value: 1 }]);
      return;
    }
  }
  if (decision.allowed) return;
  publishMetrics([{ callerRole: bucket.role }], [{ name: RATE_LIMIT_METRICS.limited, unit: MetricUnit.Count, value: 1 }]);
  throw new RateLimitedError(bucket, decision.retryAfterSeconds);
}
