/**
 * The local vector store of the embedded stack: one S3 object per vector in the local S3 server, under
 * `vectors/tenant_<id>/` of a bucket. Why S3 and not the lifecycle table: a benchmark tenant holds 25,000 vectors
 * of 1,536 dimensions (about 150 MB as float32); in DynamoDB Local (`-inMemory` in tests) that would sit in the
 * JVM's heap and each ~8 KB item would cost 8 write units, while s3rver keeps objects on disk. One object per
 * vector mirrors Pinecone's record API: upsert and fetch by id, ids listed in order with a pagination token
 * (ListObjectsV2's continuation token), delete all by prefix, delete by id prefix (the ids' keys share the
 * prefix's key: `encodeURIComponent` encodes character by character).
 * An object holds JSON `{ id, dimension, values, metadata? }` where `values` is the float32 little-endian bytes in
 * base64 (about 8.2 KB for 1,536 dimensions, against ~30 KB as JSON numbers); values are stored at float32
 * precision, as Pinecone stores them.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { mapWithConcurrency } from './concurrency';
import { deletePrefix, listPage } from './s3-prefix';
import { assertVectorIdPrefix, vectorNamespace, type StoredVector, type VectorIdPage, type VectorStore } from './vector-store';

export interface S3VectorStoreOptions {
  readonly s3: () => Promise<S3Client> | S3Client;
  readonly bucket: string;
  /** Parallel GETs and PUTs. Default 16. */
  readonly concurrency?: number;
}

interface StoredObject {
  readonly id: string;
  readonly dimension: number;
  readonly values: string;
  readonly metadata?: Record<string, unknown>;
}

export function encodeVectorValues(values: readonly number[]): string {
  return Buffer.from(Float32Array.from(values).buffer).toString('base64');
}

export function decodeVectorValues(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
}

export class S3VectorStore implements VectorStore {
  readonly name = 'local-s3';
  readonly #options: S3VectorStoreOptions;

  constructor(options: S3VectorStoreOptions) {
    this.#options = options;
  }

  /** The tenant's folder; the trailing slash keeps `tenant_acme/` apart from `tenant_acme-eu/`. */
  prefixOf(tenantId: string): string {
    return `vectors/${vectorNamespace(tenantId)}/`;
  }

  #key(tenantId: string, id: string): string {
    return `${this.prefixOf(tenantId)}${encodeURIComponent(id)}.json`;
  }

  async listIds(tenantId: string, options: { readonly limit: number; readonly paginationToken?: string }): Promise<VectorIdPage> {
    const prefix = this.prefixOf(tenantId);
    // ListObjectsV2 returns at most 1,000 keys per request.
    const page = await listPage(await this.#options.s3(), this.#options.bucket, prefix, { maxKeys: Math.min(options.limit, 1000), continuationToken: options.paginationToken });
    return { ids: page.objects.map(({ key }) => decodeURIComponent(key.slice(prefix.length, -'.json'.length))), next: page.next };
  }

  async fetch(tenantId: string, ids: readonly string[]): Promise<StoredVector[]> {
    const s3 = await this.#options.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const found = await mapWithConcurrency(ids, this.#options.concurrency ?? 16, async (id): Promise<StoredVector | undefined> => {
      try {
        const got = await s3.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(tenantId, id) }));
        const stored = JSON.parse(await (got.Body as { transformToString(): Promise<string> }).transformToString()) as StoredObject;
        return { id: stored.id, values: decodeVectorValues(stored.values), ...(stored.metadata ? { metadata: stored.metadata } : {}) };
      } catch (error) {
        if ((error as Error).name === 'NoSuchKey') return undefined; // deleted since it was listed
        throw error;
      }
    });
    return found.filter((vector): vector is StoredVector => vector !== undefined);
  }

  async upsert(tenantId: string, vectors: readonly StoredVector[]): Promise<void> {
    const s3 = await this.#options.s3();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await mapWithConcurrency(vectors, this.#options.concurrency ?? 16, async (vector) => {
      const stored: StoredObject = { id: vector.id, dimension: vector.values.length, values: encodeVectorValues(vector.values), ...(vector.metadata ? { metadata: { ...vector.metadata } } : {}) };
      await s3.send(new PutObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(tenantId, vector.id), Body: JSON.stringify(stored), ContentType: 'application/json' }));
    });
  }

  async deleteAll(tenantId: string): Promise<void> {
    await deletePrefix(await this.#options.s3(), this.#options.bucket, this.prefixOf(tenantId));
  }

  async deleteByPrefix(tenantId: string, prefix: string, options: { readonly keep?: ReadonlySet<string> } = {}): Promise<{ readonly deleted: number }> {
    assertVectorIdPrefix(prefix);
    const keys = new Set([...(options.keep ?? [])].map((id) => this.#key(tenantId, id)));
    const keyPrefix = `${this.prefixOf(tenantId)}${encodeURIComponent(prefix)}`;
    return { deleted: await deletePrefix(await this.#options.s3(), this.#options.bucket, keyPrefix, { keep: (key) => keys.has(key) }) };
  }
}
