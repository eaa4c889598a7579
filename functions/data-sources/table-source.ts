/**
 * Data sources over the lifecycle table. Each declares the item kinds it owns (`tableItems`: a pk prefix and an
 * exact sk or sk prefix), so a test can prove that every item the code writes belongs to exactly one source
 * (test/unit/data-sources/item-ownership.test.ts, test/integration/data-sources/table-ownership.test.ts).
 *
 * Two ways to find a tenant's items:
 *  - `PartitionSource`: the tenant's partition (`TENANT#<id>`, or another partition of the tenant's own, as
 *    `IDEMPOTENCY#<id>`), one Query per owned sk prefix, in sk order;
 *  - `TenantIndexSource`: items in partitions of their own (operations, subscription links, local schedules)
 *    that carry `ownerTenantId`: found through the sparse `byTenant` index, so an export or a hard delete reads
 *    the tenant's items only, however large the table.
 * Purge deletes with BatchWriteItem (25 keys a request, unprocessed keys retried) and is idempotent.
 */
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BY_TENANT_INDEX, tenantPk } from '../tenants/tenant-table';
import { decodeSourceCursor, encodeSourceCursor, TABLE_KEY_POSITION } from './cursor';
import type { DataPage, DataRecord, DataRetention, DataSource, DataSourceDescription } from './data-source';
import * as z from 'zod';

/** One kind of item in the lifecycle table, by its key shape. */
export interface TableItemKind {
  /** What the item is (`tenant`, `lease`, ...): for messages and the README. */
  readonly name: string;
  /** The partition key starts with this (`TENANT#`, `OPERATION#`). */
  readonly pkPrefix: string;
  /** The sort key is exactly this... */
  readonly sk?: string;
  /** ...or starts with this (neither: any sort key of the partition). */
  readonly skPrefix?: string;
}

/** A data source whose records are items of the lifecycle table: it names the item kinds it owns. */
export interface TableDataSource extends DataSource {
  readonly tableItems: readonly TableItemKind[];
}

export function isTableDataSource(source: DataSource): source is TableDataSource {
  return Array.isArray((source as Partial<TableDataSource>).tableItems);
}

/** Whether `item` (with string pk and sk) is of `kind`. */
export function itemIsOfKind(item: { readonly pk?: unknown; readonly sk?: unknown }, kind: TableItemKind): boolean {
  const pk = String(item.pk);
  const sk = String(item.sk);
  if (!pk.startsWith(kind.pkPrefix)) return false;
  if (kind.sk !== undefined) return sk === kind.sk;
  return sk.startsWith(kind.skPrefix ?? '');
}

export interface TableSourceOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** The key attributes and the index attributes are storage, not the data subject's data. */
const STORAGE_ATTRIBUTES = new Set(['pk', 'sk']);

export function withoutStorageAttributes(item: Record<string, unknown>, also: readonly string[] = []): DataRecord {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) if (!STORAGE_ATTRIBUTES.has(key) && !also.includes(key)) out[key] = value;
  return out;
}

/** Delete `keys` in batches of 25 (BatchWriteItem's limit), retrying unprocessed keys. Returns how many were sent. */
export async function deleteKeys(client: DynamoDBDocumentClient, tableName: string, keys: readonly Record<string, unknown>[]): Promise<number> {
  for (let i = 0; i < keys.length; i += 25) {
    let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)));
      if (attempt > 10) throw new Error(`DynamoDB left ${requests.length} deletes unprocessed after ${attempt} attempts.`);
      const { UnprocessedItems } = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  }
  return keys.length;
}

/** One Query of a source for one item kind; `extra` adds paging, COUNT or a projection. */
type KindQuery = (kind: TableItemKind, extra: Partial<QueryCommandInput>) => Promise<{ Count?: number; Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>;

/** Items of `kinds`, counted through every page (a page without Count adds 0). */
async function countKinds(kinds: readonly TableItemKind[], query: KindQuery): Promise<number> {
  let total = 0;
  for (const kind of kinds) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await query(kind, { Select: 'COUNT', ExclusiveStartKey: startKey });
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  return total;
}

/** Items of `kinds` with only the attributes of `projection` (with its names), through every page. */
async function projectKinds(kinds: readonly TableItemKind[], query: KindQuery, projection: Pick<QueryCommandInput, 'ProjectionExpression' | 'ExpressionAttributeNames'>): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (const kind of kinds) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await query(kind, { ...projection, ExclusiveStartKey: startKey });
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
  return items;
}

const PARTITION_POSITION = z.object({ kind: z.number().int().min(0).max(100), after: TABLE_KEY_POSITION.nullable() }).strict();

/**
 * A source made of item kinds of one partition of the tenant's (`TENANT#<id>` by default; `partitionOf` names
 * another, keyed by the exact tenant id so look-alikes such as `acme` and `acme-eu` stay apart). Records come
 * kind by kind, in sort key order: the order of `tableItems`, then sk.
 */
export class PartitionSource implements TableDataSource {
  readonly name: string;
  readonly description: DataSourceDescription;
  readonly tableItems: readonly TableItemKind[];
  readonly retention?: DataRetention;
  readonly #options: TableSourceOptions;
  readonly #toRecord: (item: Record<string, unknown>) => DataRecord;
  readonly #partitionOf: (tenantId: string) => string;

  constructor(
    options: TableSourceOptions & {
      readonly name: string;
      readonly description: DataSourceDescription;
      readonly tableItems: readonly TableItemKind[];
      /** The tenant's partition key (default `TENANT#<id>`). */
      readonly partitionOf?: (tenantId: string) => string;
      /** Item → exported record; default: every attribute but the keys. */
      readonly toRecord?: (item: Record<string, unknown>) => DataRecord;
      /** Every item of this source is kept by a hard delete, for this reason: purge deletes none and counts them. */
      readonly retention?: DataRetention;
    },
  ) {
    this.name = options.name;
    this.description = options.description;
    this.tableItems = options.tableItems;
    if (options.retention) this.retention = options.retention;
    this.#options = options;
    this.#toRecord = options.toRecord ?? ((item) => withoutStorageAttributes(item));
    this.#partitionOf = options.partitionOf ?? tenantPk;
  }

  #query(tenantId: string, kind: TableItemKind, extra: Partial<QueryCommandInput>) {
    const sk = kind.sk ?? kind.skPrefix;
    const condition = kind.sk !== undefined ? 'pk = :pk AND sk = :sk' : sk !== undefined ? 'pk = :pk AND begins_with(sk, :sk)' : 'pk = :pk';
    return this.#options.client.send(
      new QueryCommand({
        TableName: this.#options.tableName,
        KeyConditionExpression: condition,
        ExpressionAttributeValues: { ':pk': this.#partitionOf(tenantId), ...(sk === undefined ? {} : { ':sk': sk }) },
        ConsistentRead: true,
        ...extra,
      }),
    );
  }

  async count(tenantId: string): Promise<number> {
    return countKinds(this.tableItems, (kind, extra) => this.#query(tenantId, kind, extra));
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    let position = cursor === null ? { kind: 0, after: null } : decodeSourceCursor(this.name, tenantId, cursor, PARTITION_POSITION);
    const records: DataRecord[] = [];
    while (position.kind < this.tableItems.length && records.length < limit) {
      const kind = this.tableItems[position.kind] as TableItemKind;
      const page = await this.#query(tenantId, kind, { Limit: limit - records.length, ExclusiveStartKey: position.after ?? undefined });
      records.push(...(page.Items ?? []).map((item) => this.#toRecord(item)));
      position = page.LastEvaluatedKey ? { kind: position.kind, after: { pk: String(page.LastEvaluatedKey.pk), sk: String(page.LastEvaluatedKey.sk) } } : { kind: position.kind + 1, after: null };
    }
    return { records, nextCursor: position.kind < this.tableItems.length ? encodeSourceCursor(this.name, tenantId, position) : null };
  }

  async #keys(tenantId: string): Promise<Record<string, unknown>[]> {
    return projectKinds(this.tableItems, (kind, extra) => this.#query(tenantId, kind, extra), { ProjectionExpression: 'pk, sk' });
  }

  /** Deletes every item, or with `retention` none (they are counted as retained). */
  async purge(tenantId: string): Promise<{ readonly deleted: number; readonly retained?: number }> {
    if (this.retention) return { deleted: 0, retained: await this.count(tenantId) };
    return { deleted: await deleteKeys(this.#options.client, this.#options.tableName, await this.#keys(tenantId)) };
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number; readonly retained?: number }> {
    if (this.retention) return { remaining: 0, retained: await this.count(tenantId) };
    return { remaining: await this.count(tenantId) };
  }
}

const INDEX_POSITION = z
  .object({ kind: z.number().int().min(0).max(100), after: TABLE_KEY_POSITION.extend({ [BY_TENANT_INDEX.partitionKey]: z.string().min(1).max(100) }).strict().nullable() })
  .strict();

/**
 * A source made of items in partitions of their own (operations, subscription links, local schedules) that
 * carry the tenant's id in `ownerTenantId`: found through the sparse `byTenant` index (partition
 * `ownerTenantId`, sort `pk`), one Query per owned kind (`begins_with(pk, pkPrefix)`, and `sk` filtered when the
 * kind names one), so the cost follows the tenant's items, not the table's. Index reads are eventually
 * consistent: an item written a moment ago may be missing from a count, and one just deleted may still be
 * counted by verifyPurged (the hard delete retries its verification for that reason).
 */
export class TenantIndexSource implements TableDataSource {
  readonly name: string;
  readonly description: DataSourceDescription;
  readonly tableItems: readonly TableItemKind[];
  readonly #options: TableSourceOptions;
  readonly #toRecord: (item: Record<string, unknown>) => DataRecord;
  /** The kinds counted and exported (tableItems without `purgeOnly`). */
  readonly #exported: readonly TableItemKind[];

  constructor(
    options: TableSourceOptions & {
      readonly name: string;
      readonly description: DataSourceDescription;
      /** The kinds whose items are the tenant's records. */
      readonly tableItems: readonly TableItemKind[];
      /** Bookkeeping kinds that go with the tenant's records: purged and verified with them, not exported. */
      readonly purgeOnly?: readonly TableItemKind[];
      readonly toRecord?: (item: Record<string, unknown>) => DataRecord;
    },
  ) {
    const prefixed = [...options.tableItems, ...(options.purgeOnly ?? [])].find((kind) => kind.skPrefix !== undefined);
    if (prefixed) throw new Error(`Data source '${options.name}': item kind '${prefixed.name}' has an sk prefix; the byTenant index can only filter an exact sk.`);
    this.name = options.name;
    this.description = options.description;
    // Bookkeeping first: a purge cut short never leaves bookkeeping whose records are gone.
    this.tableItems = [...(options.purgeOnly ?? []), ...options.tableItems];
    this.#exported = options.tableItems;
    this.#options = options;
    this.#toRecord = options.toRecord ?? ((item) => withoutStorageAttributes(item, [BY_TENANT_INDEX.partitionKey]));
  }

  #query(tenantId: string, kind: TableItemKind, extra: Partial<QueryCommandInput>) {
    const names: Record<string, string> = { '#owner': BY_TENANT_INDEX.partitionKey, '#pk': 'pk', ...extra.ExpressionAttributeNames };
    const values: Record<string, unknown> = { ':owner': tenantId, ':pkPrefix': kind.pkPrefix };
    if (kind.sk !== undefined) {
      names['#sk'] = 'sk';
      values[':sk'] = kind.sk;
    }
    return this.#options.client.send(
      new QueryCommand({
        TableName: this.#options.tableName,
        IndexName: BY_TENANT_INDEX.name,
        KeyConditionExpression: '#owner = :owner AND begins_with(#pk, :pkPrefix)',
        ...(kind.sk === undefined ? {} : { FilterExpression: '#sk = :sk' }),
        ...extra,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async count(tenantId: string): Promise<number> {
    return this.#count(tenantId, this.#exported);
  }

  async #count(tenantId: string, kinds: readonly TableItemKind[]): Promise<number> {
    return countKinds(kinds, (kind, extra) => this.#query(tenantId, kind, extra));
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    let position = cursor === null ? { kind: 0, after: null } : decodeSourceCursor(this.name, tenantId, cursor, INDEX_POSITION);
    const records: DataRecord[] = [];
    // A page evaluates at most `limit - found` items, so it never returns more than the page has room for and
    // the start key always follows the last record taken.
    while (position.kind < this.#exported.length && records.length < limit) {
      const kind = this.#exported[position.kind] as TableItemKind;
      const page = await this.#query(tenantId, kind, { Limit: limit - records.length, ExclusiveStartKey: position.after ?? undefined });
      records.push(...(page.Items ?? []).map((item) => this.#toRecord(item)));
      const last = page.LastEvaluatedKey;
      position = last
        ? { kind: position.kind, after: { pk: String(last.pk), sk: String(last.sk), [BY_TENANT_INDEX.partitionKey]: String(last[BY_TENANT_INDEX.partitionKey]) } }
        : { kind: position.kind + 1, after: null };
    }
    return { records, nextCursor: position.kind < this.#exported.length ? encodeSourceCursor(this.name, tenantId, position) : null };
  }

  /** The keys of this tenant's items of every owned kind, bookkeeping first (`projection` adds attributes). */
  async keys(tenantId: string, projection: readonly string[] = []): Promise<Record<string, unknown>[]> {
    return this.#keys(tenantId, this.tableItems, projection);
  }

  async #keys(tenantId: string, kinds: readonly TableItemKind[], projection: readonly string[] = []): Promise<Record<string, unknown>[]> {
    const names: Record<string, string> = {};
    const projected = ['pk', 'sk', ...projection].map((attribute, i) => {
      names[`#p${i}`] = attribute;
      return `#p${i}`;
    });
    return projectKinds(kinds, (kind, extra) => this.#query(tenantId, kind, extra), { ProjectionExpression: projected.join(', '), ExpressionAttributeNames: names });
  }


  /** Delete the bookkeeping, then the records; answers how many records (as counted) were deleted. */
  async purge(tenantId: string): Promise<{ readonly deleted: number }> {
    const bookkeeping = this.tableItems.filter((kind) => !this.#exported.includes(kind));
    const strip = (keys: Record<string, unknown>[]) => keys.map(({ pk, sk }) => ({ pk, sk }));
    await deleteKeys(this.#options.client, this.#options.tableName, strip(await this.#keys(tenantId, bookkeeping)));
    return { deleted: await deleteKeys(this.#options.client, this.#options.tableName, strip(await this.#keys(tenantId, this.#exported))) };
  }

  /** Items of every kind left, bookkeeping included. */
  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number }> {
    return { remaining: await this.#count(tenantId, this.tableItems) };
  }
}
