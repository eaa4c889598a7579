/**
 * Documents: the objects the application keeps for the tenant in its S3 bucket, under one prefix per tenant
 * (`tenants/<tenantId>/` by default). The prefix always ends with `/`, so tenant `acme` never reaches the objects
 * of `acme-eu` (`tenants/acme/` is not a prefix of `tenants/acme-eu/...`).
 * A page is one ListObjectsV2 page (its continuation token is the cursor) and a GET per object, at most
 * `concurrency` at a time.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { mapWithConcurrency } from './concurrency';
import { decodeSourceCursor, encodeSourceCursor } from './cursor';
import type { DataPage, DataRecord, DataSource, DataSourceDescription } from './data-source';
import { countObjects, deletePrefix, listPage } from './s3-prefix';

export interface DocumentsSourceOptions {
  /** The S3 client, made on first use (its SDK is not loaded at cold init). */
  readonly s3: () => Promise<S3Client> | S3Client;
  readonly bucket: string;
  /** The tenant's prefix; must end with `/`. Default `tenants/<tenantId>/`. */
  readonly prefixOf?: (tenantId: string) => string;
  /** Parallel GETs per page. Default 16. */
  readonly concurrency?: number;
  /** Another prefix of objects the tenant owns (the exports bucket's `exports/<tenantId>/`): its source name and description. Default `documents`. */
  readonly name?: string;
  readonly description?: DataSourceDescription;
}

/** The default layout: `tenants/<tenantId>/`. */
export function defaultDocumentPrefix(tenantId: string): string {
  return `tenants/${tenantId}/`;
}

const POSITION = z.object({ continuationToken: z.string().min(1).max(4096) }).strict();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text when it is valid UTF-8, else as base64. */
export function bodyFields(bytes: Uint8Array): { body: string } | { bodyBase64: string } {
  try {
    return { body: utf8.decode(bytes) };
  } catch {
    return { bodyBase64: Buffer.from(bytes).toString('base64') };
  }
}

export class DocumentsSource implements DataSource {
  readonly name: string;
  readonly description: DataSourceDescription;
  static readonly DESCRIPTION = {
    summary:
      'The documents the application stores for the tenant in its S3 bucket (one object each, under the tenant\'s prefix), with their content.',
    fields: {
      key: 'The object key, relative to the tenant\'s prefix.',
      size: 'Size of the content (bytes).',
      contentType: 'The media type the application stored it with.',
      lastModified: 'When it was last written (ISO 8601, UTC).',
      etag: 'S3\'s entity tag of the content (for a single-part upload, the MD5 in hex, quoted).',
      body: 'The content, when it is valid UTF-8 text.',
      bodyBase64: 'The content in base64, when it is not valid UTF-8 (binary files).',
    },
  } as const;
  readonly #options: DocumentsSourceOptions;

  constructor(options: DocumentsSourceOptions) {
    this.#options = options;
    this.name = options.name ?? 'documents';
    this.description = options.description ?? DocumentsSource.DESCRIPTION;
  }

  prefixOf(tenantId: string): string {
    const prefix = (this.#options.prefixOf ?? defaultDocumentPrefix)(tenantId);
    // Without the trailing slash, `tenants/acme` would also match `tenants/acme-eu/...`.
    if (!prefix.endsWith('/')) throw new Error(`The documents prefix of tenant '${tenantId}' must end with '/': '${prefix}'.`);
    return prefix;
  }

  async count(tenantId: string): Promise<number> {
    return countObjects(await this.#options.s3(), this.#options.bucket, this.prefixOf(tenantId));
  }

  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    const position = cursor === null ? undefined : decodeSourceCursor(this.name, tenantId, cursor, POSITION);
    const s3 = await this.#options.s3();
    const prefix = this.prefixOf(tenantId);
    const page = await listPage(s3, this.#options.bucket, prefix, { maxKeys: Math.min(Math.max(limit, 1), 1000), continuationToken: position?.continuationToken });
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const records = await mapWithConcurrency(page.objects, this.#options.concurrency ?? 16, async (object): Promise<DataRecord> => {
      const got = await s3.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: object.key }));
      const bytes = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
      return {
        key: object.key.slice(prefix.length),
        size: bytes.byteLength,
        contentType: got.ContentType ?? null,
        lastModified: (got.LastModified ?? object.lastModified)?.toISOString() ?? null,
        etag: got.ETag ?? object.etag ?? null,
        ...bodyFields(bytes),
      };
    });
    return { records, nextCursor: page.next ? encodeSourceCursor(this.name, tenantId, { continuationToken: page.next }) : null };
  }

  async purge(tenantId: string): Promise<{ readonly deleted: number }> {
    return { deleted: await deletePrefix(await this.#options.s3(), this.#options.bucket, this.prefixOf(tenantId)) };
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number }> {
    return { remaining: await this.count(tenantId) };
  }
}
