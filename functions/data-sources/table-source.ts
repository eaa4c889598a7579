/**
 * Data sources over the lifecycle table. Each declares the item kinds it owns (`tableItems`: a pk prefix and an
 * exact sk or sk prefix), so a test can prove that every item the code writes belongs to exactly one source
 * (test/unit/data-sources/item-ownership.test.ts, test/integration/data-sources/table-ownership.test.ts).
 *
 * Two ways to find a tenant's items:
 *  - `PartitionSource`: the tenant's partition (`TENANT#<id>`), one Query per owned sk prefix, in sk order;
 *  - `ScanSource`: items in partitions of their own (operations, idempotency records) that name the tenant in
 *    an attribute; found with a filtered Scan (a whole-table read per call: there is no index by tenant, and
 *    export and hard delete are rare; a `byTenant` index is the way out if tables grow large).
 * Purge deletes with BatchWriteItem (25 keys a request, unprocessed keys retried) and is idempotent.
 */
import { BatchWriteCommand, QueryCommand, ScanCommand, type DynamoDBDocumentClient, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { tenantPk } from '../tenants/tenant-table';
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
  /** ...or starts with this. */
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

const PARTITION_POSITION = z.object({ kind: z.number().int().min(0).max(100), after: TABLE_KEY_POSITION.nullable() }).strict();

/**
 * A source made of item kinds of the tenant's partition (`pkPrefix` `TENANT#`). Records come kind by kind, in sort
 * key order: the order of `tableItems`, then sk.
 */
export class PartitionSource implements TableDataSource {
  readonly name: string;
  readonly description: DataSourceDescription;
  readonly tableItems: readonly TableItemKind[];
  readonly retention?: DataRetention;
  readonly #options: TableSourceOptions;
  readonly #toRecord: (item: Record<string, unknown>) => DataRecord;

  constructor(
    options: TableSourceOptions & {
      readonly name: string;
      readonly description: DataSourceDescription;
      readonly tableItems: readonly TableItemKind[];
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
  }

  #query(tenantId: string, kind: TableItemKind, extra: { Limit?: number; ExclusiveStartKey?: Record<string, unknown>; Select?: 'COUNT'; ProjectionExpression?: string }) {
    const exact = kind.sk !== undefined;
    return this.#options.client.send(
      new QueryCommand({
        TableName: this.#options.tableName,
        KeyConditionExpression: exact ? 'pk = :pk AND sk = :sk' : 'pk = :pk AND begins_with(sk, :sk)',
        ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':sk': exact ? kind.sk : kind.skPrefix },
        ConsistentRead: true,
        ...extra,
      }),
    );
  }

  async count(tenantId: string): Promise<number> {
    let total = 0;
    for (const kind of this.tableItems) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.#query(tenantId, kind, { Select: 'COUNT', ExclusiveStartKey: startKey });
        total += page.Count ?? 0;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return total;
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
    const keys: Record<string, unknown>[] = [];
    for (const kind of this.tableItems) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.#query(tenantId, kind, { ProjectionExpression: 'pk, sk', ExclusiveStartKey: startKey });
        keys.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return keys;
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

/**
 * A source made of items in partitions of their own that name the tenant: found by a Scan whose filter
 * (`filter(tenantId)`) selects this tenant's items of the owned kinds. Records come in the table's scan order,
 * which is stable while the table's items do not change.
 */
export class ScanSource implements TableDataSource {
  readonly name: string;
  readonly description: DataSourceDescription;
  readonly tableItems: readonly TableItemKind[];
  readonly #options: TableSourceOptions;
  readonly #filter: (tenantId: string) => Pick<ScanCommandInput, 'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>;
  readonly #toRecord: (item: Record<string, unknown>) => DataRecord;

  constructor(
    options: TableSourceOptions & {
      readonly name: string;
      readonly description: DataSourceDescription;
      readonly tableItems: readonly TableItemKind[];
      readonly filter: (tenantId: string) => Pick<ScanCommandInput, 'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>;
      readonly toRecord?: (item: Record<string, unknown>) => DataRecord;
    },
  ) {
    this.name = options.name;
    this.description = options.description;
    this.tableItems = options.tableItems;
    this.#options = options;
    this.#filter = options.filter;
    this.#toRecord = options.toRecord ?? ((item) => withoutStorageAttributes(item));
  }

  #scan(tenantId: string, extra: Partial<ScanCommandInput>) {
    return this.#options.client.send(new ScanCommand({ TableName: this.#options.tableName, ConsistentRead: true, ...this.#filter(tenantId), ...extra }));
  }

  async count(tenantId: string): Promise<number> {
    let total = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#scan(tenantId, { Select: 'COUNT', ExclusiveStartKey: startKey });
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return total;
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    let after: Record<string, unknown> | undefined = cursor === null ? undefined : decodeSourceCursor(this.name, tenantId, cursor, TABLE_KEY_POSITION);
    const records: DataRecord[] = [];
    // A page evaluates at most `limit - found` items, so it never returns more than the page has room for and
    // the start key always follows the last record taken.
    do {
      const page = await this.#scan(tenantId, { Limit: limit - records.length, ExclusiveStartKey: after });
      records.push(...(page.Items ?? []).map((item) => this.#toRecord(item)));
      after = page.LastEvaluatedKey ? { pk: page.LastEvaluatedKey.pk, sk: page.LastEvaluatedKey.sk } : undefined;
    } while (after && records.length < limit);
    return { records, nextCursor: after ? encodeSourceCursor(this.name, tenantId, after) : null };
  }

  /** The keys of this tenant's items (`projection` adds attributes). */
  async keys(tenantId: string, projection: readonly string[] = []): Promise<Record<string, unknown>[]> {
    const keys: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    const filter = this.#filter(tenantId);
    const names: Record<string, string> = { ...filter.ExpressionAttributeNames };
    const projected = ['pk', 'sk', ...projection].map((attribute, i) => {
      names[`#p${i}`] = attribute;
      return `#p${i}`;
    });
    do {
      const page = await this.#scan(tenantId, { ProjectionExpression: projected.join(', '), ExpressionAttributeNames: names, ExclusiveStartKey: startKey });
      keys.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return keys;
  }

  async purge(tenantId: string): Promise<{ readonly deleted: number }> {
    const keys = (await this.keys(tenantId)).map(({ pk, sk }) => ({ pk, sk }));
    return { deleted: await deleteKeys(this.#options.client, this.#options.tableName, keys) };
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number }> {
    return { remaining: await this.count(tenantId) };
  }
}
