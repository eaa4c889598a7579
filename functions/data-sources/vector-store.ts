/**
 * The vector-store port: a tenant's vectors, listed by id page by page, fetched by ids, deleted all at once.
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
}

/** The namespace of a tenant's vectors (DESIGN.md "Data sources"; the same as plan-resources' `resourcesFor`). */
export function vectorNamespace(tenantId: string): string {
  return `tenant_${tenantId}`;
}
