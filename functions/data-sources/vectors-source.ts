/**
 * Vectors: the tenant's embeddings in the vector store (Pinecone namespace `tenant_<id>`, or the local store).
 * A page lists ids with the store's pagination token (the cursor) and fetches them. Counting lists every id:
 * Pinecone's index statistics are eventually consistent, and the count must equal what the pages yield.
 */
import * as z from 'zod';
import { decodeSourceCursor, encodeSourceCursor } from './cursor';
import type { DataPage, DataSource } from './data-source';
import type { VectorStore } from './vector-store';

const POSITION = z.object({ paginationToken: z.string().min(1).max(4096) }).strict();
/** Pinecone lists and fetches at most 100 ids per request. */
const MAX_IDS = 100;
/**
 * Ids per listing when counting: S3's maximum (ListObjectsV2 MaxKeys); a store that lists fewer per request
 * (Pinecone: 100) answers fewer. Counting 25,000 local vectors 100 at a time took longer than the export's
 * CountSource timeout (60 s) on s3rver, which walks the whole folder for every page.
 */
const COUNT_PAGE = 1000;

export class VectorsSource implements DataSource {
  readonly name = 'vectors';
  readonly description = {
    summary: 'The tenant\'s vectors (embeddings of its documents) in the vector store: Pinecone namespace tenant_<id>, or the local store.',
    fields: {
      id: 'The vector id the application gave it.',
      values: 'The embedding: one number per dimension (float32 precision).',
      metadata: 'What the application stored with it (document id, chunk...), if anything.',
    },
  } as const;
  readonly #store: VectorStore;

  constructor(store: VectorStore) {
    this.#store = store;
  }

  async count(tenantId: string): Promise<number> {
    let total = 0;
    let token: string | undefined;
    do {
      const page = await this.#store.listIds(tenantId, { limit: COUNT_PAGE, paginationToken: token });
      total += page.ids.length;
      token = page.next;
    } while (token);
    return total;
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    const position = cursor === null ? undefined : decodeSourceCursor(this.name, tenantId, cursor, POSITION);
    const page = await this.#store.listIds(tenantId, { limit: Math.min(Math.max(limit, 1), MAX_IDS), paginationToken: position?.paginationToken });
    const vectors = page.ids.length > 0 ? await this.#store.fetch(tenantId, page.ids) : [];
    const records = vectors.map((vector) => ({ id: vector.id, values: [...vector.values], ...(vector.metadata ? { metadata: vector.metadata } : {}) }));
    return { records, nextCursor: page.next ? encodeSourceCursor(this.name, tenantId, { paginationToken: page.next }) : null };
  }

  async purge(tenantId: string): Promise<{ readonly deleted: number }> {
    const deleted = await this.count(tenantId);
    if (deleted > 0) await this.#store.deleteAll(tenantId);
    return { deleted };
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number }> {
    return { remaining: await this.count(tenantId) };
  }
}
