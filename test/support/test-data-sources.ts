/**
 * Small implementations of the DataSource port for the export tests (the real sources live in
 * functions/data-sources/): the audit trail read from the tenant store on DynamoDB Local, documents as real
 * objects in the local S3 server, and generated records in memory (volume). Each reads by cursor, as a real
 * source does.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DataSourceCursorError, type DataPage, type DataRecord, type DataSource } from '../../functions/data-sources/data-source';
import type { TenantStore } from '../../functions/tenants/tenant-store';

const unused = {
  purge: () => Promise.reject(new Error('not used by export tests')),
  verifyPurged: () => Promise.reject(new Error('not used by export tests')),
};

/** The tenant's audit trail, newest first, through the tenant store's own paging. */
export function auditSource(tenants: TenantStore): DataSource {
  return {
    name: 'audit',
    description: { summary: 'Every change of the tenant, one entry per version.', fields: { version: 'the tenant version this entry made', event: 'the lifecycle event', at: 'when (ISO 8601)' } },
    count: async (tenantId) => (await tenants.get(tenantId)).version,
    exportPage: async (tenantId, cursor, limit) => {
      const page = await tenants.history(tenantId, { limit: Math.min(limit, 100), ...(cursor ? { cursor } : {}) });
      return { records: page.items as unknown as DataRecord[], nextCursor: page.nextCursor ?? null };
    },
    ...unused,
  };
}

/** Documents: objects under `docs/<tenant>/` in `bucket`; a record is the key, size and text. */
export function documentsSource(s3: S3Client, bucket: string): DataSource {
  return {
    name: 'documents',
    description: { summary: "The tenant's documents, one record per stored object.", fields: { key: 'the object key', text: 'its content (UTF-8)' } },
    count: async (tenantId) => {
      let count = 0;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `docs/${tenantId}/`, ContinuationToken: token }));
        count += page.KeyCount ?? 0;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return count;
    },
    exportPage: async (tenantId, cursor, limit): Promise<DataPage> => {
      if (cursor !== null && !cursor.startsWith(`docs/${tenantId}/`)) throw new DataSourceCursorError('documents');
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `docs/${tenantId}/`, MaxKeys: limit, ...(cursor ? { StartAfter: cursor } : {}) }));
      const keys = (page.Contents ?? []).map((object) => object.Key as string);
      const records = await Promise.all(
        keys.map(async (key) => {
          const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          return { key: key.slice(`docs/${tenantId}/`.length), text: await (object.Body as { transformToString(): Promise<string> }).transformToString() };
        }),
      );
      return { records, nextCursor: page.IsTruncated ? (keys.at(-1) ?? null) : null };
    },
    ...unused,
  };
}

export async function putDocuments(s3: S3Client, bucket: string, tenantId: string, documents: ReadonlyArray<{ name: string; text: string }>): Promise<void> {
  for (const document of documents) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `docs/${tenantId}/${document.name}`, Body: document.text }));
}

/** Records in memory per tenant; the cursor is the next index (as a string). */
export function memorySource(name: string, records: Readonly<Record<string, readonly DataRecord[]>>): DataSource {
  return {
    name,
    description: { summary: `Generated ${name} records.`, fields: { i: 'the record number', payload: 'filler text' } },
    count: async (tenantId) => (records[tenantId] ?? []).length,
    exportPage: async (tenantId, cursor, limit) => {
      const all = records[tenantId] ?? [];
      const start = cursor === null ? 0 : Number(cursor);
      if (!Number.isInteger(start) || start < 0 || start > all.length) throw new DataSourceCursorError(name);
      const end = Math.min(start + limit, all.length);
      return { records: all.slice(start, end), nextCursor: end < all.length ? String(end) : null };
    },
    ...unused,
  };
}

/** Every record a source yields for a tenant, read page by page: what an export must hold. */
export async function allRecords(source: DataSource, tenantId: string, limit = 100): Promise<DataRecord[]> {
  const out: DataRecord[] = [];
  let cursor: string | null = null;
  do {
    const page: DataPage = await source.exportPage(tenantId, cursor, limit);
    out.push(...page.records);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}
