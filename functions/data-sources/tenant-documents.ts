/**
 * How the application plane writes and deletes a tenant's document: the one convention the documents and vectors
 * sources read, so that a document written again under the same name REPLACES the old one everywhere (the
 * course's failure 4: after a reactivation with restored data, re-uploading files with the same names must not
 * leave duplicates or a mix of old and new chunks in the answers).
 *
 * - A document is keyed by its name: the object `<documents prefix><name>` (default `tenants/<tenantId>/<name>`).
 *   Writing the same name again overwrites it: S3 keeps one current object per key.
 * - Its chunks' vectors have the ids `<name>#<chunk>` (chunk 0, 1, 2…), with metadata `document` and `chunk`.
 *   Writing the document again upserts the new chunks (same ids are replaced in place) and then deletes the
 *   document's other chunks (ids under `<name>#` not written now): a re-upload with fewer chunks leaves none of the
 *   old ones behind.
 *
 * Why replace-by-name rather than versions with the latest winning: a tenant's documents are files it manages by
 * name (as the course's `compliance_policy.pdf`); keeping old versions would keep data the customer replaced,
 * and every query would have to filter them out. A bucket with S3 Versioning still keeps noncurrent versions for
 * its own retention; the sources read current objects only.
 *
 * Both calls are idempotent: after a failure part-way (object written, vectors not yet), calling again with the
 * same arguments converges. One writer per document name at a time: two concurrent writes of the same name can
 * leave the chunks of one with the body of the other, until either is written again.
 */
import { DocumentsSource } from './documents-source';
import type { DataSourceDependencies } from './registry';
import type { StoredVector } from './vector-store';

/** What writing a document needs: the documents bucket (and prefix), the S3 client and the vector store. */
export type TenantDocumentDependencies = Pick<DataSourceDependencies, 'documents' | 's3' | 'vectorStore'>;

/** One chunk's embedding, in chunk order; its id is given by its position. */
export interface DocumentChunk {
  readonly values: readonly number[];
  /** Stored with the vector, with `document` (the name) and `chunk` (the position) added. */
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

export interface TenantDocument {
  /** The document's name: its key under the tenant's prefix (may contain `/` for folders). See `documentNameProblem`. */
  readonly name: string;
  readonly body: string | Uint8Array;
  /** Default `application/octet-stream` (S3's). */
  readonly contentType?: string;
  /** The embeddings of its chunks, in order; none is fine (a document without vectors). */
  readonly chunks: readonly DocumentChunk[];
}

/** Thrown for a document name the convention cannot hold; says what to change. */
export class DocumentNameError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentNameError';
  }
}

/** The separator between a document's name and its chunk number in a vector id. */
export const CHUNK_SEPARATOR = '#';
/** S3 keys are at most 1,024 bytes; the tenant's prefix takes part of that. */
const MAX_NAME_BYTES = 512;

/** Why `name` cannot be a document name, or undefined when it can. */
export function documentNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a document name must not be empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `a document name is at most ${MAX_NAME_BYTES} bytes of UTF-8`;
  // '#' separates the name from the chunk number: with it, one document's chunks could fall under another's prefix
  // (`a#b#0` is under `a#`), and replacing `a` would delete them.
  if (name.includes(CHUNK_SEPARATOR)) return `a document name must not contain '${CHUNK_SEPARATOR}' (it separates the name from the chunk number in vector ids)`;
  if (name.startsWith('/')) return "a document name must not start with '/'";
  if (name.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return "a document name must not have empty, '.' or '..' path segments";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a document name must not contain control characters';
  return undefined;
}

function checkName(name: string): void {
  const problem = documentNameProblem(name);
  if (problem) throw new DocumentNameError(`Document name ${JSON.stringify(name)}: ${problem}.`);
}

/** The vector id of chunk `chunk` of document `name`: `<name>#<chunk>`. */
export function chunkId(name: string, chunk: number): string {
  return `${name}${CHUNK_SEPARATOR}${chunk}`;
}

/** The id prefix every chunk of document `name` has: `<name>#`. */
export function chunkPrefix(name: string): string {
  return `${name}${CHUNK_SEPARATOR}`;
}

function objectKey(deps: TenantDocumentDependencies, tenantId: string, name: string): string {
  // DocumentsSource.prefixOf checks the prefix ends with '/' (tenant `acme` never writes into `acme-eu`).
  return `${new DocumentsSource({ s3: deps.s3, ...deps.documents }).prefixOf(tenantId)}${name}`;
}

/**
 * Write (or replace) the tenant's document `document.name`: its object, then its chunks' vectors, then the
 * deletion of its chunks that this write did not make. Answers the vector ids written and how many old chunks
 * were deleted. Throws DocumentNameError for a name the convention cannot hold (nothing written), and what S3 or
 * the vector store throws (call again to converge).
 */
export async function putDocument(deps: TenantDocumentDependencies, tenantId: string, document: TenantDocument): Promise<{ readonly key: string; readonly chunkIds: readonly string[]; readonly staleChunksDeleted: number }> {
  checkName(document.name);
  const key = objectKey(deps, tenantId, document.name);
  const s3 = await deps.s3();
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new PutObjectCommand({ Bucket: deps.documents.bucket, Key: key, Body: document.body, ...(document.contentType ? { ContentType: document.contentType } : {}) }));
  const vectors: StoredVector[] = document.chunks.map((chunk, index) => ({
    id: chunkId(document.name, index),
    values: chunk.values,
    metadata: { ...chunk.metadata, document: document.name, chunk: index },
  }));
  // Upsert before deleting: a query meanwhile finds the document's new chunks (and at worst, for a moment, an old
  // chunk past the new count), never the document without vectors.
  if (vectors.length > 0) await deps.vectorStore.upsert(tenantId, vectors);
  const chunkIds = vectors.map((vector) => vector.id);
  const { deleted } = await deps.vectorStore.deleteByPrefix(tenantId, chunkPrefix(document.name), { keep: new Set(chunkIds) });
  return { key, chunkIds, staleChunksDeleted: deleted };
}

/**
 * Delete the tenant's document `name`: its object and every chunk's vector. Nothing there is fine. Answers how
 * many vectors were deleted. Throws DocumentNameError for a name the convention cannot hold.
 */
export async function deleteDocument(deps: TenantDocumentDependencies, tenantId: string, name: string): Promise<{ readonly chunksDeleted: number }> {
  checkName(name);
  const s3 = await deps.s3();
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new DeleteObjectCommand({ Bucket: deps.documents.bucket, Key: objectKey(deps, tenantId, name) }));
  const { deleted } = await deps.vectorStore.deleteByPrefix(tenantId, chunkPrefix(name));
  return { chunksDeleted: deleted };
}
