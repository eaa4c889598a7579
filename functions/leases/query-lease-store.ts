/**
 * Query leases on the lifecycle table. The application plane takes one per request; a plan change starts a
 * read-only window (sets the tenant's `readOnlyReason`), after which new leases are refused, then waits until
 * `liveLeases` is empty. Leases expire on their own, so a crashed caller cannot hold a tenant forever.
 *
 * Lease item: pk=TENANT#<id>, sk=LEASE#<leaseId>, in the tenant's partition so one strongly consistent Query
 * lists them. `leaseExpiresAt` (epoch ms) decides liveness; `expiresAt` (epoch s, the table's TTL attribute)
 * only cleans up, a while later, because TTL deletion runs up to days late and must never decide liveness.
 * Lease items carry no `state`, so they stay out of the byState index.
 *
 * The cap (MAX_LIVE_LEASES_PER_TENANT): a tenant has that many slots, items pk=TENANT#<id>, sk=LEASE_SLOT#<n>
 * (n from 0), each naming the lease that holds it and when that lease expires. A lease is written in the same
 * transaction as its slot, on the condition that the slot is missing or its lease has expired; so two acquires
 * racing for the last slot cannot both win (a count read before a put could not ensure that), and an expired
 * lease frees its slot without anyone deleting it. Releasing a lease deletes its slot too, if the slot still
 * names it. Lowering the cap leaves leases in the higher slots live until they end (at most the longest ttl).
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { accessFor, notBlockedCondition } from '../lifecycle/access-policy';
import type { TenantState } from '../lifecycle/lifecycle-table';
import { getDocumentClient } from '../shared/aws-clients';
import { config } from '../shared/config';
import { TenantNotFoundError } from '../tenants/errors';
import { TENANT_SK, tenantPk } from '../tenants/tenant-table';
import { LeaseLimitError, LeaseRefusedError } from './errors';
import { LEASE_TTL_SECONDS } from './lease-schemas';

export const LEASE_SK_PREFIX = 'LEASE#';
/** The cap's slots: at most MAX_LIVE_LEASES_PER_TENANT of them are held by live leases. */
export const LEASE_SLOT_SK_PREFIX = 'LEASE_SLOT#';

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
/** Attempts at an acquire whose slot was taken by a concurrent acquire between its read and its write. */
const MAX_SLOT_ATTEMPTS = 25;

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
  /** Live leases one tenant may hold at once; defaults to config.maxLiveLeasesPerTenant, read on each acquire. */
  readonly maxLiveLeases?: number;
}

interface LeaseItem {
  readonly tenantId: string;
  readonly leaseId: string;
  readonly holder: string;
  readonly acquiredAt: string;
  readonly leaseExpiresAt: number;
  /** The cap's slot it holds (absent on leases written before the cap). */
  readonly slot?: number;
}

interface SlotItem {
  readonly slot: number;
  readonly leaseId: string;
  readonly leaseExpiresAt: number;
}

export function leaseSlotSk(slot: number): string {
  return `${LEASE_SLOT_SK_PREFIX}${slot}`;
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

/** The acquire's transaction failed only because its slot was taken since it was read (the third item's condition). */
function isSlotTaken(error: unknown): boolean {
  if (!(error instanceof TransactionCanceledException)) return false;
  const [tenant, , slot] = error.CancellationReasons ?? [];
  return tenant?.Code !== 'ConditionalCheckFailed' && slot?.Code === 'ConditionalCheckFailed';
}

export class QueryLeaseStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #now: () => Date;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #maxLiveLeases: number | undefined;

  constructor(options: QueryLeaseStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#now = options.now ?? clock.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#maxLiveLeases = options.maxLiveLeases;
  }

  /**
   * Take a query lease, unless the tenant is missing (TenantNotFoundError), in a read-only window or blocked by
   * the access policy: soft-deleted, deleted, or coming back from either (LeaseRefusedError), or already holds
   * its cap of live leases (LeaseLimitError, with the seconds until the soonest expires).
   *
   * One transaction checks the tenant item, writes the lease and takes a free slot of the cap, so the check and
   * the write cannot be split by a concurrent change: DynamoDB serializes it against the workflow's conditional
   * update that sets `readOnlyReason`. An acquire that commits before the marker has its lease item in the table
   * when the marker lands, so a liveLeases read after the marker sees it; an acquire ordered after the marker
   * fails its condition check and writes nothing. No lease can slip in unseen behind the drain, and no two
   * acquires take one slot.
   */
  async acquire(tenantId: string, options: AcquireLeaseOptions): Promise<QueryLease> {
    const ttlSeconds = options.ttlSeconds ?? LEASE_TTL_SECONDS.default;
    assertLeaseTtl(ttlSeconds);
    const limit = this.#maxLiveLeases ?? config.maxLiveLeasesPerTenant;
    let conflicts = 0;
    let slotsLost = 0;
    for (;;) {
      const slot = await this.#freeSlot(tenantId, limit).catch((error: unknown) => this.#refusalBefore(error, tenantId));
      try {
        return await this.#tryAcquire(tenantId, options.holder, ttlSeconds, slot);
      } catch (error) {
        // A concurrent acquire took the slot since it was read: read the slots again (a full cap answers 429).
        if (isSlotTaken(error) && ++slotsLost < MAX_SLOT_ATTEMPTS) continue;
        // Concurrent acquires (and transitions) on one tenant contend for its item; the loser may simply retry.
        if (!isTransactionConflict(error) || ++conflicts >= MAX_CONFLICT_ATTEMPTS) throw this.#explainRefusal(error, tenantId);
        await this.#sleep(Math.random() * Math.min(CONFLICT_BACKOFF_MS.cap, CONFLICT_BACKOFF_MS.base * 2 ** conflicts));
      }
    }
  }

  /**
   * Throw why the tenant refuses leases at all (missing, read-only window, blocked), which says more than its
   * cap being full; else `error` (the LeaseLimitError). One condition check of the tenant item, written nowhere.
   */
  async #refusalBefore(error: unknown, tenantId: string): Promise<never> {
    try {
      await this.#client.send(new TransactWriteCommand({ TransactItems: [this.#admissionCheck(tenantId)] }));
    } catch (refusal) {
      const explained = this.#explainRefusal(refusal, tenantId);
      if (explained !== refusal) throw explained;
    }
    throw error;
  }

  /** The transaction item that checks the tenant admits leases (leaseAdmissionCondition). */
  #admissionCheck(tenantId: string) {
    return {
      ConditionCheck: {
        TableName: this.#tableName,
        Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
        ConditionExpression: ADMISSION.expression,
        ExpressionAttributeNames: ADMISSION.names,
        ExpressionAttributeValues: ADMISSION.values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /**
   * A slot of the cap no live lease holds, chosen at random among the free ones (so concurrent acquires seldom
   * pick the same); LeaseLimitError when every slot is held. Read with strong consistency.
   */
  async #freeSlot(tenantId: string, limit: number): Promise<number> {
    const now = this.#now().getTime();
    const held = new Map((await this.#liveItems<SlotItem>(tenantId, LEASE_SLOT_SK_PREFIX, now, 'slot, leaseExpiresAt')).map((item) => [item.slot, item.leaseExpiresAt]));
    const free = Array.from({ length: limit }, (_, slot) => slot).filter((slot) => !held.has(slot));
    if (free.length > 0) return free[Math.floor(Math.random() * free.length)] as number;
    const soonest = Math.min(...[...held].filter(([slot]) => slot < limit).map(([, expiresAt]) => expiresAt));
    throw new LeaseLimitError(tenantId, limit, Math.max(1, Math.ceil((soonest - now) / 1000)));
  }

  /**
   * Release a lease, and the slot of the cap it holds; idempotent. Resolves to whether the lease was still live.
   * The slot is deleted only while it names this lease: once expired, it may be another lease's already.
   */
  async release(tenantId: string, leaseId: string): Promise<boolean> {
    const { Attributes } = await this.#client.send(
      new DeleteCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk: leaseSk(leaseId) }, ReturnValues: 'ALL_OLD' }),
    );
    const lease = Attributes as LeaseItem | undefined;
    if (lease?.slot !== undefined) {
      try {
        await this.#client.send(
          new DeleteCommand({
            TableName: this.#tableName,
            Key: { pk: tenantPk(tenantId), sk: leaseSlotSk(lease.slot) },
            ConditionExpression: 'leaseId = :leaseId',
            ExpressionAttributeValues: { ':leaseId': leaseId },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error; // another lease holds the slot now
      }
    }
    return lease !== undefined && lease.leaseExpiresAt > this.#now().getTime();
  }

  /** The tenant's leases that have not expired, read with strong consistency: what a drain waits on. */
  async liveLeases(tenantId: string): Promise<QueryLease[]> {
    return (await this.#liveItems<LeaseItem>(tenantId, LEASE_SK_PREFIX, this.#now().getTime())).map(toLease);
  }

  /** Every item of the tenant's partition under `prefix` whose lease has not expired at `now`, all pages, strongly consistent. */
  async #liveItems<T>(tenantId: string, prefix: string, now: number, projection?: string): Promise<T[]> {
    const items: T[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: 'leaseExpiresAt > :now',
          ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':prefix': prefix, ':now': now },
          ...(projection === undefined ? {} : { ProjectionExpression: projection }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...((page.Items ?? []) as T[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  async #tryAcquire(tenantId: string, holder: string, ttlSeconds: number, slot: number): Promise<QueryLease> {
    const now = this.#now();
    const leaseExpiresAt = now.getTime() + ttlSeconds * 1000;
    const item: LeaseItem = { tenantId, leaseId: randomUUID(), holder, acquiredAt: now.toISOString(), leaseExpiresAt, slot };
    const expiresAt = Math.ceil(leaseExpiresAt / 1000) + TTL_GRACE_SECONDS;
    await this.#client.send(
      new TransactWriteCommand({
        TransactItems: [
          this.#admissionCheck(tenantId),
          {
            Put: {
              TableName: this.#tableName,
              Item: {
                pk: tenantPk(tenantId),
                sk: leaseSk(item.leaseId),
                type: 'lease',
                ...item,
                expiresAt,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            // The slot, free: never written, or its lease has expired (leaseExpiresAt decides, as for liveness).
            Put: {
              TableName: this.#tableName,
              Item: { pk: tenantPk(tenantId), sk: leaseSlotSk(slot), type: 'lease-slot', slot, leaseId: item.leaseId, leaseExpiresAt, expiresAt },
              ConditionExpression: 'attribute_not_exists(pk) OR leaseExpiresAt <= :now',
              ExpressionAttributeValues: { ':now': now.getTime() },
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
