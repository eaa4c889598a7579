/**
 * Idempotency-Key for POST routes (every one but the signed Stripe webhook), on Powertools' idempotency utility
 * through the shared runner (functions/shared/idempotency.ts), the contract Stripe documents for its own header
 * (https://docs.stripe.com/api/idempotent_requests):
 * - the first request with a key runs; a retry with the same key and the same request gets the first response
 *   back with header `idempotent-replayed: true`, and changes nothing;
 * - the same key with another request is 422 IDEMPOTENCY_KEY_REUSED; while the first still runs, 409
 *   IDEMPOTENCY_IN_PROGRESS; a malformed key 400 INVALID_IDEMPOTENCY_KEY;
 * - keys are the caller's (role, tenant, subject: two callers never share one) and the tenant's the request is
 *   about (the record is in that tenant's partition, with its data); kept config.idempotencyTtlSeconds (24 h);
 * - a request that fails (a thrown error, or a 5xx answer) releases its key, so a retry runs again;
 * - authentication and validation run first (apiRoute), so a refused request never holds a key.
 * "The same request" is the route, the path, the query parameters, If-Match and the body as parsed JSON: the
 * same JSON with its keys in another order is the same request (Powertools hashes deep-sorted JSON).
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { IdempotencyAlreadyInProgressError, IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiError } from '../errors';
import { runIdempotent, type Json } from '../idempotency';
import type { ApiResult } from './response';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
/** The sort key prefix of an API request's record (API#<hash>). */
export const API_RECORD_KIND = 'API';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** A request's Idempotency-Key and whose it is. */
export interface IdempotencyKey {
  /** The caller: `<role>:<tenant or *>:<subject>` (idempotencyScope). */
  readonly caller: string;
  /** The header's value. */
  readonly key: string;
}

/** Keys are scoped per caller: role, tenant (for tenant tokens) and subject, so two callers never share one. */
export function idempotencyScope(role: string, tenantId: string | undefined, subject: string): string {
  return `${role}:${tenantId ?? '*'}:${subject}`;
}

/**
 * The request's Idempotency-Key and its caller; undefined without the header. Throws ApiError 400
 * INVALID_IDEMPOTENCY_KEY for a value that is not 1 to 255 printable ASCII characters without spaces.
 */
export function idempotencyKeyOf(
  headers: Readonly<Record<string, string | undefined>>,
  principal: { readonly role: string; readonly tenantId?: string; readonly subject: string },
): IdempotencyKey | undefined {
  const key = headers[IDEMPOTENCY_HEADER];
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw new ApiError(400, 'INVALID_IDEMPOTENCY_KEY', 'The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces (a UUID works).');
  }
  return { caller: idempotencyScope(principal.role, principal.tenantId, principal.subject), key };
}

/** What identifies "the same request" (see the module comment): JSON, so Powertools hashes it deep-sorted. */
export function requestIdentity(routeId: string, event: APIGatewayProxyEventV2, query: Readonly<Record<string, string>>, body: unknown): Json {
  return {
    route: routeId,
    path: event.rawPath,
    query: { ...query },
    ifMatch: event.headers?.['if-match']?.trim() ?? null,
    body: (body ?? null) as Json,
  };
}

export interface IdempotentRequest {
  readonly key: IdempotencyKey;
  /** requestIdentity(...) of this request. */
  readonly request: Json;
  /** The tenant whose data the response holds (the record's partition); undefined: none. */
  readonly tenantId: string | undefined;
  readonly context?: Pick<Context, 'getRemainingTimeInMillis'>;
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  readonly tableName: string;
  /** How long the response is kept, in seconds (config.idempotencyTtlSeconds). */
  readonly ttlSeconds: number;
}

/**
 * Answer `run()` once per key (see the module comment): its response, or the stored one with
 * `idempotent-replayed: true`. Throws ApiError 422 IDEMPOTENCY_KEY_REUSED, 409 IDEMPOTENCY_IN_PROGRESS, what
 * `run` throws, and the table's error when the key cannot be claimed.
 */
export async function answerOnce(idempotent: IdempotentRequest, run: () => Promise<ApiResult>): Promise<ApiResult> {
  try {
    const { result, replayed } = await runIdempotent({
      client: idempotent.client,
      tableName: idempotent.tableName,
      tenantId: idempotent.tenantId,
      kind: API_RECORD_KIND,
      key: { caller: idempotent.key.caller, key: idempotent.key.key },
      request: idempotent.request,
      expiresAfterSeconds: idempotent.ttlSeconds,
      ...(idempotent.context ? { context: idempotent.context } : {}),
      run,
      keep: (response) => response.statusCode < 500,
    });
    return replayed ? { ...result, headers: { ...result.headers, [REPLAYED_HEADER]: 'true' } } : result;
  } catch (error) {
    if (error instanceof IdempotencyValidationError) {
      throw new ApiError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request; use a new key for a new request.');
    }
    if (error instanceof IdempotencyAlreadyInProgressError) {
      throw new ApiError(409, 'IDEMPOTENCY_IN_PROGRESS', 'A request with this Idempotency-Key is still running; retry in a few seconds.');
    }
    throw error;
  }
}
