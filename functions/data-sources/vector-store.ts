/**
 * The vector-store port: a tenant's vectors, listed by id page by page, fetched by ids, deleted all at once or by id
 * prefix (one document's chunks, `<document name>#<chunk>`: functions/data-sources/tenant-documents.ts).
 * Two adapters: Pinecone (namespace `tenant_<id>`, ./pinecone-vector-store.ts) on AWS, and a store in S3 for the
 * embedded local stack (./s3-vector-store.ts). The vectors data source (./vectors-source.ts) is written once
 * against it.
 */

/** One vector as the application stored it. */
export interface StoredVector {
  readonly id: string;
  /** The embedding (float32 precision in both stores). */
  readonly values: readonly number[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface VectorIdPage {
  /** Ids in the store's stable order (both adapters: ascending by id). */
  readonly ids: readonly string[];
  /** The store's token for the next page; undefined on the last page. */
  readonly next?: string;
}

export interface VectorStore {
  readonly name: 'pinecone' | 'local-s3';
  /**
   * Up to `limit` ids of the tenant's vectors from `paginationToken` (absent: the first page); fewer when the
   * store lists fewer per request (Pinecone 100, S3 1,000), with `next` set.
   */
  listIds(tenantId: string, options: { readonly limit: number; readonly paginationToken?: string }): Promise<VectorIdPage>;
  /** The vectors with these ids (ids that are gone are left out), in the order of `ids`. */
  fetch(tenantId: string, ids: readonly string[]): Promise<StoredVector[]>;
  /** Write (or replace) vectors. */
  upsert(tenantId: string, vectors: readonly StoredVector[]): Promise<void>;
  /** Delete every vector of the tenant; nothing to delete is fine. */
  deleteAll(tenantId: string): Promise<void>;
  /**
   * Delete the tenant's vectors whose id starts with `prefix` (a non-empty string), except the ids in `keep`; answers
   * how many it deleted. Both adapters list the ids by prefix and delete those ids (Pinecone serverless indexes
   * cannot delete by metadata: https://docs.pinecone.io/guides/manage-data/delete-data, "delete records by ID
   * prefix"). Ids written under the prefix while it runs may stay: one writer per prefix at a time.
   * Throws RangeError for an empty prefix (that would be `deleteAll`).
   */
  deleteByPrefix(tenantId: string, prefix: string, options?: { readonly keep?: ReadonlySet<string> }): Promise<{ readonly deleted: number }>;
}

/** The namespace of a tenant's vectors (DESIGN.md "Data sources"; the same as plan-resources' `resourcesFor`). */
export function vectorNamespace(tenantId: string): string {
  return `tenant_${tenantId}`;
}

/** RangeError unless `prefix` is non-empty: a prefix delete must never become a delete of everything. */
export function assertVectorIdPrefix(prefix: string): void {
  if (prefix.length === 0) throw new RangeError('A vector id prefix must not be empty: use deleteAll to delete every vector of a tenant.');
}
