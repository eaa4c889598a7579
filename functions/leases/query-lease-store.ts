/**
 * Query leases on the lifecycle table. The application plane takes one per request; a plan change starts a
 * read-only window (sets the tenant's `readOnlyReason`), after which new leases are refused, then waits until
 * `liveLeases` is empty. Leases expire on their own, so a crashed caller cannot hold a tenant forever.
 *
 * Lease item: pk=TENANT#<id>, sk=LEASE#<leaseId>, in the tenant's partition so one strongly consistent Query
 * lists them. `leaseExpiresAt` (epoch ms) decides liveness; `expiresAt` (epoch s, the table's TTL attribute)
 * only cleans up, a while later, because TTL deletion runs up to days late and must never decide liveness.
 * Lease items carry no `state`, so they stay out of the byState index.
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { accessFor, notBlockedCondition } from '../lifecycle/access-policy';
import type { TenantState } from '../lifecycle/lifecycle-table';
import { getDocumentClient } from '../shared/aws-clients';
import { config } from '../shared/config';
import { TenantNotFoundError } from '../tenants/errors';
import { TENANT_SK, tenantPk } from '../tenants/tenant-table';
import { LeaseRefusedError } from './errors';
import { LEASE_TTL_SECONDS } from './lease-schemas';

export const LEASE_SK_PREFIX = 'LEASE#';

/**
 * The condition a lease's tenant item must meet when the lease is written: the tenant exists, is not in a
 * read-only window, and the access policy does not block it (accessFor answers `blocked`: soft-deleted,
 * deleted, or coming back from either). Built from the lifecycle module's blockedWhen(), so this store states
 * no rule of its own; the database evaluates it against the tenant as it is when the lease lands.
 */
export function leaseAdmissionCondition(): { expression: string; names: Record<string, string>; values: Record<string, string> } {
  const notBlocked = notBlockedCondition();
  return { ...notBlocked, expression: ['attribute_exists(pk)', 'attribute_not_exists(readOnlyReason)', notBlocked.expression].join(' AND ') };
}

const ADMISSION = leaseAdmissionCondition();

/** How long after its expiry TTL may remove a lease item: expired leases stay visible to operators a while. */
const TTL_GRACE_SECONDS = 300;

/** Attempts at an acquire that lost a transaction conflict on the tenant item to a concurrent change. */
const MAX_CONFLICT_ATTEMPTS = 6;
const CONFLICT_BACKOFF_MS = { base: 20, cap: 500 } as const;

/** A live (or formerly live) query lease as callers see it. */
export interface QueryLease {
  readonly tenantId: string;
  readonly leaseId: string;
  readonly holder: string;
  readonly acquiredAt: string;
  /** When the lease stops counting, unless released earlier (ISO 8601). */
  readonly expiresAt: string;
}

export interface AcquireLeaseOptions {
  /** Who holds it: shown to operators. */
  readonly holder: string;
  /** Seconds until the lease expires on its own, 1 to 300; defaults to 30. */
  readonly ttlSeconds?: number;
}

export interface QueryLeaseStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Injected for tests; defaults to the clock (functions/shared/clock.ts: the wall clock when deployed). */
  readonly now?: () => Date;
  /** Injected for tests; waits between attempts after a transaction conflict. */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface LeaseItem {
  readonly tenantId: string;
  readonly leaseId: string;
  readonly holder: string;
  readonly acquiredAt: string;
  readonly leaseExpiresAt: number;
}

export function leaseSk(leaseId: string): string {
  return `${LEASE_SK_PREFIX}${leaseId}`;
}

function toLease(item: LeaseItem): QueryLease {
  return {
    tenantId: item.tenantId,
    leaseId: item.leaseId,
    holder: item.holder,
    acquiredAt: item.acquiredAt,
    expiresAt: new Date(item.leaseExpiresAt).toISOString(),
  };
}

/** Throw a RangeError unless `ttlSeconds` is a whole number of seconds within the lease bounds. */
export function assertLeaseTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < LEASE_TTL_SECONDS.min || ttlSeconds > LEASE_TTL_SECONDS.max) {
    throw new RangeError(`ttlSeconds must be a whole number from ${LEASE_TTL_SECONDS.min} to ${LEASE_TTL_SECONDS.max}, got ${ttlSeconds}.`);
  }
}

function isTransactionConflict(error: unknown): boolean {
  return error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict');
}

export class QueryLeaseStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: QueryLeaseStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? clock.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Take a query lease, unless the tenant is missing (TenantNotFoundError), in a read-only window or blocked by
   * the access policy: soft-deleted, deleted, or coming back from either (LeaseRefusedError).
   *
   * One transaction checks the tenant item and writes the lease, so the check and the write cannot be split by
   * a concurrent change: DynamoDB serializes it against the workflow's conditional update that sets
   * `readOnlyReason`. An acquire that commits before the marker has its lease item in the table when the marker
   * lands, so a liveLeases read after the marker sees it; an acquire ordered after the marker fails its
   * condition check and writes nothing. No lease can slip in unseen behind the drain.
   */
  async acquire(tenantId: string, options: AcquireLeaseOptions): Promise<QueryLease> {
    const ttlSeconds = options.ttlSeconds ?? LEASE_TTL_SECONDS.default;
    assertLeaseTtl(ttlSeconds);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#tryAcquire(tenantId, options.holder, ttlSeconds);
      } catch (error) {
        // Concurrent acquires (and transitions) on one tenant contend for its item; the loser may simply retry.
        if (!isTransactionConflict(error) || attempt >= MAX_CONFLICT_ATTEMPTS) throw this.#explainRefusal(error, tenantId);
        await this.#sleep(Math.random() * Math.min(CONFLICT_BACKOFF_MS.cap, CONFLICT_BACKOFF_MS.base * 2 ** attempt));
      }
    }
  }

  /** Release a lease; idempotent. Resolves to whether the lease was still live. */
  async release(tenantId: string, leaseId: string): Promise<boolean> {
    const { Attributes } = await this.#client.send(
      new DeleteCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk: leaseSk(leaseId) }, ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined && (Attributes as LeaseItem).leaseExpiresAt > this.#now().getTime();
  }

  /** The tenant's leases that have not expired, read with strong consistency: what a drain waits on. */
  async liveLeases(tenantId: string): Promise<QueryLease[]> {
    const leases: QueryLease[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :lease)',
          FilterExpression: 'leaseExpiresAt > :now',
          ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':lease': LEASE_SK_PREFIX, ':now': this.#now().getTime() },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      leases.push(...(page.Items ?? []).map((item) => toLease(item as LeaseItem)));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return leases;
  }

  async #tryAcquire(tenantId: string, holder: string, ttlSeconds: number): Promise<QueryLease> {
    const now = this.#now();
    const leaseExpiresAt = now.getTime() + ttlSeconds * 1000;
    const item: LeaseItem = { tenantId, leaseId: randomUUID(), holder, acquiredAt: now.toISOString(), leaseExpiresAt };
    await this.#client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: this.#tableName,
              Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
              ConditionExpression: ADMISSION.expression,
              ExpressionAttributeNames: ADMISSION.names,
              ExpressionAttributeValues: ADMISSION.values,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            Put: {
              TableName: this.#tableName,
              Item: {
                pk: tenantPk(tenantId),
                sk: leaseSk(item.leaseId),
                type: 'lease',
                ...item,
                expiresAt: Math.ceil(leaseExpiresAt / 1000) + TTL_GRACE_SECONDS,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    return toLease(item);
  }

  /** Turn a failed tenant check into the error that says why; anything else is returned unchanged. */
  #explainRefusal(error: unknown, tenantId: string): unknown {
    if (!(error instanceof TransactionCanceledException)) return error;
    const check = error.CancellationReasons?.[0];
    if (check?.Code !== 'ConditionalCheckFailed') return error;
    if (!check.Item) return new TenantNotFoundError(tenantId);
    const tenant = unmarshall(check.Item as Record<string, AttributeValue>) as { state: TenantState; origin?: TenantState; readOnlyReason?: string };
    if (tenant.readOnlyReason !== undefined) {
      return new LeaseRefusedError(tenantId, 'read_only_window', { state: tenant.state, readOnlyReason: tenant.readOnlyReason });
    }
    if (accessFor(tenant).access === 'blocked') return new LeaseRefusedError(tenantId, 'blocked', { state: tenant.state });
    return error;
  }
}

let store: QueryLeaseStore | undefined;

/** The lease store on the configured table, created once per Lambda container (the route handlers' instance). */
export function queryLeaseStore(): QueryLeaseStore {
  store ??= new QueryLeaseStore({ client: getDocumentClient(), tableName: config.tableName });
  return store;
}
