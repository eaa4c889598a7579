/**
 * The vector store on Pinecone, through the official SDK (`@pinecone-database/pinecone`): a tenant's vectors are
 * the namespace of its placement (`tenant_<id>`, in the pooled index or its dedicated one). Ids are listed with
 * `listPaginated` (serverless indexes; ids in bitwise order, a pagination token per page), fetched with `fetch`
 * (at most 100 ids a request), and deleted with `deleteAll` on the namespace, or by id prefix: the ids listed with
 * `listPaginated({ prefix })` then deleted with `deleteMany` (at most 1,000 ids a request), the way Pinecone's docs
 * delete one document's chunks on serverless indexes, which cannot delete by metadata
 * (https://docs.pinecone.io/guides/manage-data/list-record-ids, /delete-data).
 * The SDK is loaded on first use (`pinecone`), as the provisioner does, so a cold start does not parse it.
 */
import type { Pinecone } from '@pinecone-database/pinecone';
import { callWith } from '../shared/secret-value';
import { assertVectorIdPrefix, type StoredVector, type VectorIdPage, type VectorStore } from './vector-store';

/** One namespace of one index, as the SDK gives it. */
type PineconeNamespace = ReturnType<ReturnType<Pinecone['index']>['namespace']>;

export interface VectorPlacementRef {
  readonly index: string;
  readonly namespace: string;
}

export interface PineconeVectorStoreOptions {
  /**
   * The SDK client, built on first use; on AWS a SecretBacked (configuredPineconeClient), its key from Secrets
   * Manager re-read after a 401.
   */
  readonly pinecone: () => Promise<Pinecone>;
  /** Where the tenant's vectors are: its placement (tenant record's resources), else the pooled index. */
  readonly placementOf: (tenantId: string) => Promise<VectorPlacementRef>;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'PineconeNotFoundError';
}

export class PineconeVectorStore implements VectorStore {
  readonly name = 'pinecone';
  readonly #options: PineconeVectorStoreOptions;

  constructor(options: PineconeVectorStoreOptions) {
    this.#options = options;
  }

  /**
   * `call` on the tenant's namespace. With the key from Secrets Manager (`pinecone` a SecretBacked), a call Pinecone
   * refuses for its key is made once more, from its start, with the key re-read: each call here is safe to repeat
   * (reads, upserts of the same records, deletes).
   */
  async #inNamespace<R>(tenantId: string, call: (namespace: PineconeNamespace) => Promise<R>): Promise<R> {
    const placement = await this.#options.placementOf(tenantId);
    return callWith(this.#options.pinecone, (pinecone) => call(pinecone.index(placement.index).namespace(placement.namespace)));
  }

  async listIds(tenantId: string, options: { readonly limit: number; readonly paginationToken?: string }): Promise<VectorIdPage> {
    return this.#inNamespace(tenantId, (namespace) => PineconeVectorStore.#listIds(namespace, options));
  }

  static async #listIds(namespace: PineconeNamespace, options: { readonly limit: number; readonly paginationToken?: string }): Promise<VectorIdPage> {
    try {
      // 100 ids per list request whatever the caller asks: Pinecone's default page
      // (https://docs.pinecone.io/reference/api/2026-07/data-plane/list), as this adapter always sent.
      const page = await namespace.listPaginated({ limit: Math.min(options.limit, 100), paginationToken: options.paginationToken });
      const ids = (page.vectors ?? []).map((vector) => vector.id).filter((id): id is string => typeof id === 'string');
      return { ids, next: page.pagination?.next };
    } catch (error) {
      if (isNotFound(error)) return { ids: [] }; // no namespace (never written, or deleted): no vectors
      throw error;
    }
  }

  async fetch(tenantId: string, ids: readonly string[]): Promise<StoredVector[]> {
    return this.#inNamespace(tenantId, (namespace) => PineconeVectorStore.#fetch(namespace, ids));
  }

  static async #fetch(namespace: PineconeNamespace, ids: readonly string[]): Promise<StoredVector[]> {
    const found: StoredVector[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const { records } = await namespace.fetch({ ids: ids.slice(i, i + 100) });
      for (const id of ids.slice(i, i + 100)) {
        const record = records[id];
        if (record) found.push({ id, values: record.values ?? [], ...(record.metadata ? { metadata: record.metadata } : {}) });
      }
    }
    return found;
  }

  async upsert(tenantId: string, vectors: readonly StoredVector[]): Promise<void> {
    return this.#inNamespace(tenantId, (namespace) => PineconeVectorStore.#upsert(namespace, vectors));
  }

  static async #upsert(namespace: PineconeNamespace, vectors: readonly StoredVector[]): Promise<void> {
    // 1,536 floats are about 37 KB of JSON: 40 vectors stay under Pinecone's 2 MB request limit.
    for (let i = 0; i < vectors.length; i += 40) {
      await namespace.upsert({
        records: vectors.slice(i, i + 40).map((vector) => ({ id: vector.id, values: [...vector.values], ...(vector.metadata ? { metadata: vector.metadata as Record<string, string> } : {}) })),
      });
    }
  }

  async deleteByPrefix(tenantId: string, prefix: string, options: { readonly keep?: ReadonlySet<string> } = {}): Promise<{ readonly deleted: number }> {
    assertVectorIdPrefix(prefix);
    return this.#inNamespace(tenantId, (namespace) => PineconeVectorStore.#deleteByPrefix(namespace, prefix, options));
  }

  static async #deleteByPrefix(namespace: PineconeNamespace, prefix: string, options: { readonly keep?: ReadonlySet<string> }): Promise<{ readonly deleted: number }> {
    // Every id first, then the deletes: a pagination token is not promised to survive deletes in between.
    const doomed: string[] = [];
    let paginationToken: string | undefined;
    try {
      do {
        const page = await namespace.listPaginated({ prefix, limit: 100, paginationToken });
        for (const { id } of page.vectors ?? []) if (typeof id === 'string' && !options.keep?.has(id)) doomed.push(id);
        paginationToken = page.pagination?.next;
      } while (paginationToken);
    } catch (error) {
      if (isNotFound(error)) return { deleted: 0 }; // no namespace: nothing under the prefix
      throw error;
    }
    // Pinecone deletes at most 1,000 ids per request (https://docs.pinecone.io/reference/api/latest/data-plane/delete: `ids` maxItems 1000).
    for (let i = 0; i < doomed.length; i += 1000) await namespace.deleteMany({ ids: doomed.slice(i, i + 1000) });
    return { deleted: doomed.length };
  }

  async deleteAll(tenantId: string): Promise<void> {
    return this.#inNamespace(tenantId, async (namespace) => {
      try {
        await namespace.deleteAll();
      } catch (error) {
        if (!isNotFound(error)) throw error; // a namespace that is not there has nothing to delete
      }
    });
  }
}
