/**
 * Idempotency-Key for POST routes: the first request with a key runs; a retry with the same key and the same
 * request gets the first response back (header `idempotent-replayed: true`) and changes nothing; the same key
 * with a different request is refused. Records live in the lifecycle table and expire through TTL.
 * Failed requests (any thrown error) release their key, so a retry runs again, as Stripe does.
 */
import * as clock from '../clock';
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ApiError } from '../errors';
import { logger } from '../powertools';
import { ownedBy } from '../../tenants/tenant-table';
import { principalOf } from './principal';
import type { ApiResult } from './response';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Keys of idempotency records: pk `IDEMPOTENCY#<scope>#<key>`, sk `IDEMPOTENCY`. */
export const IDEMPOTENCY_PK_PREFIX = 'IDEMPOTENCY#';
const RECORD_SK = 'IDEMPOTENCY';
export const IDEMPOTENCY_SK = RECORD_SK;

/**
 * Keys are scoped per caller: role, tenant (for tenant tokens) and subject, so two callers never share one. An
 * empty subject gives the prefix of every scope of that role and tenant (`tenant:acme:`).
 */
export function idempotencyScope(role: string, tenantId: string | undefined, subject: string): string {
  return `${role}:${tenantId ?? '*'}:${subject}`;
}

interface IdempotencyRecord {
  readonly status: 'IN_PROGRESS' | 'COMPLETED';
  readonly fingerprint: string;
  readonly response?: ApiResult;
}

export interface IdempotencyStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly ttlSeconds: number;
  /** How long an unfinished request holds its key before a retry may take it over. */
  readonly lockSeconds?: number;
  readonly now?: () => Date;
}

export type BeginResult = { readonly kind: 'run' } | { readonly kind: 'replay'; readonly response: ApiResult };

export class IdempotencyStore {
  readonly #options: IdempotencyStoreOptions;

  constructor(options: IdempotencyStoreOptions) {
    this.#options = options;
  }

  #key(scope: string, key: string) {
    return { pk: `${IDEMPOTENCY_PK_PREFIX}${scope}#${key}`, sk: RECORD_SK };
  }

  #epoch(): number {
    return Math.floor(clock.nowOf(this.#options).getTime() / 1000);
  }

  /**
   * Claim the key, or say what the first request with it answered. `ownerTenantId` (a tenant token's tenant)
   * puts the record in the byTenant index, so the tenant's export and hard delete find it.
   */
  async begin(scope: string, key: string, fingerprint: string, ownerTenantId?: string): Promise<BeginResult> {
    const now = this.#epoch();
    try {
      await this.#options.client.send(
        new PutCommand({
          TableName: this.#options.tableName,
          Item: {
            ...this.#key(scope, key),
            ...(ownerTenantId === undefined ? {} : ownedBy(ownerTenantId)),
            type: 'idempotency',
            status: 'IN_PROGRESS',
            fingerprint,
            lockedUntil: now + (this.#options.lockSeconds ?? 30),
            expiresAt: now + this.#options.ttlSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR (#status = :inProgress AND lockedUntil < :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':now': now, ':inProgress': 'IN_PROGRESS' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { kind: 'run' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || !error.Item) throw error;
      const existing = unmarshall(error.Item as Record<string, AttributeValue>) as IdempotencyRecord;
      if (existing.fingerprint !== fingerprint) {
        throw new ApiError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was already used for a different request; use a new key for a new request.',
        );
      }
      if (existing.status === 'COMPLETED' && existing.response) return { kind: 'replay', response: existing.response };
      throw new ApiError(409, 'IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still running; retry in a few seconds.');
    }
  }

  async complete(scope: string, key: string, fingerprint: string, response: ApiResult): Promise<void> {
    await this.#options.client.send(
      new UpdateCommand({
        TableName: this.#options.tableName,
        Key: this.#key(scope, key),
        UpdateExpression: 'SET #status = :completed, #response = :response',
        ConditionExpression: 'fingerprint = :fingerprint',
        ExpressionAttributeNames: { '#status': 'status', '#response': 'response' },
        ExpressionAttributeValues: { ':completed': 'COMPLETED', ':response': response, ':fingerprint': fingerprint },
      }),
    );
  }

  async release(scope: string, key: string, fingerprint: string): Promise<void> {
    await this.#options.client.send(
      new DeleteCommand({
        TableName: this.#options.tableName,
        Key: this.#key(scope, key),
        ConditionExpression: '#status = :inProgress AND fingerprint = :fingerprint',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':fingerprint': fingerprint },
      }),
    );
  }
}

/** What identifies "the same request": route, path, query, precondition (If-Match) and body. */
export function requestFingerprint(routeId: string, event: APIGatewayProxyEventV2): string {
  return createHash('sha256')
    .update(`${routeId}\n${event.rawPath}\n${event.rawQueryString ?? ''}\n${event.headers?.['if-match'] ?? ''}\n${event.body ?? ''}`)
    .digest('hex');
}

interface ClaimedKey {
  readonly scope: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** Middy middleware applying an IdempotencyStore to a route. */
export function idempotency(options: { routeId: string; store: () => IdempotencyStore }): middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> {
  const claims = new WeakMap<object, ClaimedKey>();

  const idempotencyBefore: middy.MiddlewareFn<APIGatewayProxyEventV2, ApiResult> = async (request) => {
    const key = request.event.headers?.[IDEMPOTENCY_HEADER];
    if (key === undefined) return;
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError(400, 'INVALID_IDEMPOTENCY_KEY', 'The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces (a UUID works).');
    }
    const principal = principalOf(request.event);
    const scope = idempotencyScope(principal.role, principal.tenantId, principal.subject);
    const claim = { scope, key, fingerprint: requestFingerprint(options.routeId, request.event) };
    const result = await options.store().begin(claim.scope, claim.key, claim.fingerprint, principal.role === 'tenant' ? principal.tenantId : undefined);
    if (result.kind === 'replay') {
      return { ...result.response, headers: { ...result.response.headers, 'idempotent-replayed': 'true' } };
    }
    claims.set(request, claim);
  };

  const idempotencyAfter: middy.MiddlewareFn<APIGatewayProxyEventV2, ApiResult> = async (request) => {
    const claim = claims.get(request);
    if (!claim || !request.response) return;
    try {
      if (request.response.statusCode >= 500) await options.store().release(claim.scope, claim.key, claim.fingerprint);
      else await options.store().complete(claim.scope, claim.key, claim.fingerprint, request.response);
    } catch (error) {
      // The request did its work: answer it. The key stays locked until lockedUntil, so a retry in the
      // meantime gets 409 IDEMPOTENCY_IN_PROGRESS rather than doing the work a second time.
      claims.delete(request);
      logger.error('Could not save the idempotent response', { error });
    }
  };

  const idempotencyOnError: middy.MiddlewareFn<APIGatewayProxyEventV2, ApiResult> = async (request) => {
    const claim = claims.get(request);
    if (!claim) return;
    claims.delete(request);
    try {
      await options.store().release(claim.scope, claim.key, claim.fingerprint);
    } catch (error) {
      // The key stays locked until lockedUntil passes; the original error is what the caller must see.
      logger.warn('Could not release idempotency key', { error });
    }
  };

  return { before: idempotencyBefore, after: idempotencyAfter, onError: idempotencyOnError };
}
