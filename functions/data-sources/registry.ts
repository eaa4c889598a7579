/**
 * The data-source registry: every place a tenant's data lives, built from the dependencies that reach them.
 * Export and hard delete iterate `createDataSources(...)` and never name a source; adding a source is one
 * implementation and one line here (DESIGN.md "Data sources").
 *
 * Order: the tenant record first, so an export reads like a file about the tenant. A hard delete should purge in
 * the reverse order, so the tenant record (and with it what identifies the tenant) goes last, after everything
 * that hangs off it, and a purge cut short can be resumed from the record.
 *
 * Every item kind of the lifecycle table belongs to exactly one source (`tableItems`): see
 * test/unit/data-sources/item-ownership.test.ts and test/integration/data-sources/table-ownership.test.ts.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BillingAccount, BillingPort } from '../billing/billing-port';
import { TENANT_SK, tenantPk } from '../tenants/tenant-table';
import { RATE_LIMIT_PK_PREFIX, RATE_LIMIT_SK } from '../shared/http/rate-limit-policy';
import { auditSource } from './audit-source';
import { BillingHistorySource } from './billing-history-source';
import type { DataSource } from './data-source';
import { DocumentsSource } from './documents-source';
import { idempotencySource } from './idempotency-source';
import { OperationsSource } from './operations-source';
import { subscriptionLinksSource } from './subscription-links-source';
import { isTableDataSource, type TableItemKind } from './table-source';
import { tenantItemsSource } from './tenant-items-source';
import { tenantRecordSource } from './tenant-record-source';
import { UsageSource } from './usage-source';
import type { VectorStore } from './vector-store';
import { VectorsSource } from './vectors-source';

export interface DataSourceDependencies {
  /** The lifecycle table. */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The application's documents: its bucket, and the tenant's prefix in it (default `tenants/<id>/`). */
  readonly documents: { readonly bucket: string; readonly prefixOf?: (tenantId: string) => string; readonly concurrency?: number };
  /** The S3 client, made on first use. */
  readonly s3: () => Promise<S3Client> | S3Client;
  /** Where the tenants' vectors are: Pinecone on AWS, the local S3 store in the embedded stack. */
  readonly vectorStore: VectorStore;
  readonly billing: BillingPort;
}

/** The tenant's Stripe account, from its record (undefined without a record or an account). */
export function tenantBillingAccount(client: DynamoDBDocumentClient, tableName: string): (tenantId: string) => Promise<BillingAccount | undefined> {
  return async (tenantId) => {
    const { Item } = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: tenantPk(tenantId), sk: TENANT_SK }, ProjectionExpression: 'billing', ConsistentRead: true }),
    );
    return Item?.billing as BillingAccount | undefined;
  };
}

/** Every data source, in export order (purge in reverse). Names are unique. */
export function createDataSources(deps: DataSourceDependencies): readonly DataSource[] {
  const table = { client: deps.client, tableName: deps.tableName };
  const sources: DataSource[] = [
    tenantRecordSource(table),
    auditSource(table),
    new UsageSource(table),
    tenantItemsSource(table),
    new OperationsSource(table),
    idempotencySource(table),
    new DocumentsSource({ s3: deps.s3, ...deps.documents }),
    new VectorsSource(deps.vectorStore),
    subscriptionLinksSource(table),
    new BillingHistorySource({ billing: deps.billing, accountOf: tenantBillingAccount(deps.client, deps.tableName) }),
  ];
  const names = sources.map((source) => source.name);
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated) throw new Error(`Two data sources are named '${repeated}'.`);
  return sources;
}

/** The owner `tableItemOwners` names for PLATFORM_TABLE_ITEMS: no data source, no tenant. */
export const PLATFORM_OWNER = 'platform';

/**
 * Item kinds of the lifecycle table that are no tenant's data, each with the reason: no source exports or purges
 * them, and the ownership tests see them owned here.
 */
export const PLATFORM_TABLE_ITEMS: ReadonlyArray<TableItemKind & { readonly reason: string }> = [
  {
    name: 'rate-limit bucket',
    pkPrefix: RATE_LIMIT_PK_PREFIX,
    sk: RATE_LIMIT_SK,
    reason:
      "The API's per-caller rate limit (functions/shared/http/rate-limit.ts): one number, until when the caller's allowance is spent (`tat`), and its " +
      'expiry; traffic accounting, like the request logs, not data the tenant gave or that describes it, and DynamoDB TTL removes it once the ' +
      "bucket is full again (seconds after the caller's last request). A tenant's bucket is keyed by its id, which its tombstone keeps anyway; " +
      "an operator's by a hash of the subject. Not purged with a tenant: every request of the tenant's tokens writes it again (the application " +
      "plane may still ask /access after the soft delete), so a hard delete could never verify it gone.",
  },
];

/** The table item kinds each source owns, by source name, then PLATFORM_TABLE_ITEMS (owner PLATFORM_OWNER). */
export function tableItemOwners(sources: readonly DataSource[]): ReadonlyArray<{ readonly source: string; readonly kind: TableItemKind }> {
  return [
    ...sources.filter(isTableDataSource).flatMap((source) => source.tableItems.map((kind) => ({ source: source.name, kind }))),
    ...PLATFORM_TABLE_ITEMS.map((kind) => ({ source: PLATFORM_OWNER, kind })),
  ];
}
