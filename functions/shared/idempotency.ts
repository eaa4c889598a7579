/**
 * Work done once per key, on Powertools for AWS Lambda's idempotency utility
 * (`@aws-lambda-powertools/idempotency`, https://docs.aws.amazon.com/powertools/typescript/latest/features/idempotency/):
 * the first call with a key claims it (an `INPROGRESS` record, put only if absent, expired, or left by a call
 * whose lock passed), runs, and stores its result (`COMPLETED`); a later call with the same key gets that result
 * back without running; a concurrent one gets `IdempotencyAlreadyInProgressError`; with a request to validate, a
 * call with the same key and another request gets `IdempotencyValidationError`. A call that throws releases its
 * key. Both hashes are SHA-256 of the deep-sorted JSON (Powertools' `deepSort`), so key order never matters.
 *
 * Records live in the lifecycle table with Powertools' `DynamoDBPersistenceLayer` (keyAttr `pk`, sortKeyAttr
 * `sk`), one partition per tenant whose data they hold: `pk=IDEMPOTENCY#<tenantId>` (`IDEMPOTENCY#_platform` for
 * work about no tenant), `sk=<kind>#<hash of the key>`. So the tenant's export and hard delete read and purge
 * them with one Query of that exact partition (functions/data-sources/idempotency-source.ts); the table's TTL
 * (`expiresAt`) removes them otherwise. Powertools writes a fixed set of attributes (no `ownerTenantId` for the
 * byTenant index), hence the partition rather than the index.
 *
 * Times are Powertools' own: the wall clock (`Date.now()`), never the local stack's simulated clock, like a
 * token's expiry; a retry window is about a client's real retries.
 */
import { IdempotencyConfig, IdempotencyPersistenceLayerError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { TABLE_KEYS, TTL_ATTRIBUTE } from '../tenants/tenant-table';
import { logger } from './powertools';

/** Partition key prefix of idempotency records: `IDEMPOTENCY#<tenantId>`. */
export const IDEMPOTENCY_PK_PREFIX = 'IDEMPOTENCY#';
/** The partition of records about no tenant (POST /billing/reconcile); `_` is never in a tenant id. */
export const NO_TENANT_PARTITION = '_platform';

/** The partition holding `tenantId`'s records (undefined: work about no tenant). */
export function idempotencyPartition(tenantId: string | undefined): string {
  return `${IDEMPOTENCY_PK_PREFIX}${tenantId ?? NO_TENANT_PARTITION}`;
}

/** The attributes Powertools writes, by their names here (besides `pk`, `sk`, and `expiresAt`, the table's TTL). */
export const IDEMPOTENCY_ATTRIBUTES = {
  status: 'status',
  response: 'response',
  requestHash: 'requestHash',
  lockedUntilMs: 'lockedUntilMs',
} as const;

/**
 * How long a claimed key stays locked when the caller has no Lambda deadline to give (seconds): 30, API Gateway's
 * longest integration timeout (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html),
 * past which nobody waits for the answer.
 */
export const DEFAULT_LOCK_SECONDS = 30;

/** JSON, as Powertools hashes and stores it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A result the caller does not want kept (a 5xx answer): the key is released, the result still answered. */
class ResultNotKept extends Error {}

export interface IdempotentWork<T> {
  /** The lifecycle table's client (a DynamoDBClient, or the document client over it) and name. */
  readonly client: DynamoDBClient | DynamoDBDocumentClient;
  readonly tableName: string;
  /** The tenant whose data the result holds: the record's partition. Undefined: about no tenant. */
  readonly tenantId: string | undefined;
  /** What kind of work (`API`, `STRIPE_EVENT`): the record's sort key prefix, so two kinds never share a key. */
  readonly kind: string;
  /** The idempotency key, any JSON (hashed after a deep sort). */
  readonly key: Json;
  /** The request the key stands for, any JSON: a later call with the same key must send the same, else IdempotencyValidationError. Omit to validate nothing. */
  readonly request?: Json;
  /** How long the result is kept, in seconds. */
  readonly expiresAfterSeconds: number;
  /** The Lambda context: its remaining time is how long the claim locks the key (DEFAULT_LOCK_SECONDS without one). */
  readonly context?: Pick<Context, 'getRemainingTimeInMillis'>;
  /** The work; its result must be JSON (what is kept is its JSON copy). */
  readonly run: () => Promise<T>;
  /** Whether to keep `result` (default: always). A result not kept releases the key, as a throw does. */
  readonly keep?: (result: T) => boolean;
}

/**
 * Run `work.run` once per key (see the module comment). Answers the result and whether it is the stored result
 * of an earlier call (`replayed`). Throws what `run` threw (after releasing the key), Powertools'
 * `IdempotencyValidationError` (same key, another request) and `IdempotencyAlreadyInProgressError` (the key is
 * claimed by a call still running), and the table's own error when the key cannot be claimed. A result that ran
 * but could not be stored is still answered (logged): its key stays locked until the lock passes.
 */
export async function runIdempotent<T>(work: IdempotentWork<T>): Promise<{ readonly result: T; readonly replayed: boolean }> {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName: work.tableName,
    awsSdkV3Client: work.client as DynamoDBClient,
    keyAttr: TABLE_KEYS.partitionKey,
    sortKeyAttr: TABLE_KEYS.sortKey,
    staticPkValue: idempotencyPartition(work.tenantId),
    expiryAttr: TTL_ATTRIBUTE,
    statusAttr: IDEMPOTENCY_ATTRIBUTES.status,
    dataAttr: IDEMPOTENCY_ATTRIBUTES.response,
    validationKeyAttr: IDEMPOTENCY_ATTRIBUTES.requestHash,
    inProgressExpiryAttr: IDEMPOTENCY_ATTRIBUTES.lockedUntilMs,
  });
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    ...(work.request === undefined ? {} : { payloadValidationJmesPath: 'request' }),
    throwOnNoIdempotencyKey: true,
    expiresAfterSeconds: work.expiresAfterSeconds,
    hashFunction: 'sha256',
  });
  const remaining = work.context?.getRemainingTimeInMillis?.();
  config.registerLambdaContext({ getRemainingTimeInMillis: () => (remaining !== undefined && remaining > 0 ? remaining : DEFAULT_LOCK_SECONDS * 1000) } as Context);

  let ran: { readonly result: T } | undefined;
  let failure: { readonly error: unknown } | undefined;
  const once = makeIdempotent(
    async (_payload: Json): Promise<Json> => {
      let result: T;
      try {
        result = await work.run();
      } catch (error) {
        failure = { error };
        throw error;
      }
      ran = { result };
      if (work.keep && !work.keep(result)) throw new ResultNotKept();
      // What Powertools stores (marshalled for DynamoDB): the result as JSON, without undefined values.
      return JSON.parse(JSON.stringify(result ?? null)) as Json;
    },
    { persistenceStore, config, keyPrefix: work.kind },
  );

  try {
    const answer = await once({ key: work.key, ...(work.request === undefined ? {} : { request: work.request }) });
    return ran ? { result: ran.result, replayed: false } : { result: answer as T, replayed: true };
  } catch (error) {
    if (failure) {
      // The work's own failure is what the caller must see; a key that could not be released stays locked until its lock passes.
      if (error !== failure.error) logger.warn('Could not release the idempotency key', { error: error as Error });
      throw failure.error;
    }
    if (ran) {
      if (!(error instanceof ResultNotKept)) logger.error('Could not store the idempotent result; its key stays locked until the lock passes', { error: error as Error });
      return { result: ran.result, replayed: false };
    }
    if (error instanceof IdempotencyPersistenceLayerError && error.cause !== undefined) throw error.cause;
    throw error;
  }
}
