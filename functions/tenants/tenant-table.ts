/**
 * The lifecycle table's key design, shared by the store, the CDK stack and the local stack so the three
 * cannot drift apart. One table holds three item types under a tenant's partition:
 *   tenant       pk=TENANT#<id>  sk=TENANT                 (the current state, versioned)
 *   audit        pk=TENANT#<id>  sk=AUDIT#<version, 12 digits>  (append-only, one per transition)
 *   idempotency  pk=IDEMPOTENCY#<tenantId>  sk=API#<hash> | STRIPE_EVENT#<hash>  (Powertools' records, in a partition
 *                of the tenant's own; expire through TTL)
 * (and, in partitions of their own: operations, query leases, ledger entries, local schedules).
 * The `byState` index lists tenants by state, ordered by when they entered it; operations and local
 * schedules use partitions of it of their own (`operation:unfinished`, `operation:scheduled`, `schedule:pending`).
 * The sparse `byTenant` index holds only the items in partitions of their own that belong to a tenant
 * (operations, local schedules of its work), by `ownerTenantId`: how export
 * and hard delete find them without reading the whole table.
 * The table's stream (new images) is the lifecycle events' outbox: each audit item it carries becomes one
 * published event (functions/events/), after its transaction committed.
 */

export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;
export const BY_STATE_INDEX = { name: 'byState', partitionKey: 'state', sortKey: 'stateChangedAt' } as const;
export const BY_TENANT_INDEX = { name: 'byTenant', partitionKey: 'ownerTenantId', sortKey: 'pk' } as const;
export const TTL_ATTRIBUTE = 'expiresAt';
/**
 * The table's stream: each item as written (new images only; the publisher needs nothing of the old one).
 * DynamoDB Streams keeps records 24 hours, in order per partition key
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
 */
export const STREAM_VIEW_TYPE = 'NEW_IMAGE' as const;

/** The attribute that puts an item of a partition of its own into the byTenant index under `tenantId`. */
export function ownedBy(tenantId: string): { readonly [BY_TENANT_INDEX.partitionKey]: string } {
  return { [BY_TENANT_INDEX.partitionKey]: tenantId };
}

export const TENANT_SK = 'TENANT';
/** The `type` attribute of audit items: what the lifecycle events' stream filter selects. */
export const AUDIT_ITEM_TYPE = 'audit';
export const AUDIT_SK_PREFIX = 'AUDIT#';

export function tenantPk(tenantId: string): string {
  return `TENANT#${tenantId}`;
}

export function auditSk(version: number): string {
  return `${AUDIT_SK_PREFIX}${String(version).padStart(12, '0')}`;
}

/** CreateTable input for DynamoDB Local, tests and benches; the CDK stack declares the same shape. */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' as const },
      { AttributeName: BY_STATE_INDEX.partitionKey, AttributeType: 'S' as const },
      { AttributeName: BY_STATE_INDEX.sortKey, AttributeType: 'S' as const },
      { AttributeName: BY_TENANT_INDEX.partitionKey, AttributeType: 'S' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' as const },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW_TYPE },
    GlobalSecondaryIndexes: [
      {
        IndexName: BY_STATE_INDEX.name,
        KeySchema: [
          { AttributeName: BY_STATE_INDEX.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: BY_STATE_INDEX.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
      {
        IndexName: BY_TENANT_INDEX.name,
        KeySchema: [
          { AttributeName: BY_TENANT_INDEX.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: BY_TENANT_INDEX.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      },
    ],
  };
}
