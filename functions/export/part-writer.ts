/**
 * The part writer: one source's records, read page by page from a cursor, written as gzip NDJSON parts
 * (`<exportPrefix>/<source>/part-00001.ndjson.gz`) through S3 uploads from a stream (`@aws-sdk/lib-storage`
 * `Upload`: multipart once a part outgrows one upload part, a single PutObject below that). The sha256, the
 * size and the record count of each part are computed on the way, so memory holds one page and the upload's
 * buffers, never a whole part.
 *
 * Resumable: one call writes at most `maxParts` parts or runs until `deadline`, and answers where the next
 * call starts (the cursor after the last page of its last part). Part numbers come from the caller's
 * position (`firstPart`), and parts end on page boundaries, so a call retried with the same input writes the
 * same records to the same keys: a retry overwrites, it never duplicates.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DataPage, DataSource } from '../data-sources/data-source';

/** One written part, as the manifest lists it. */
export interface ExportPart {
  /** Path inside the export (`documents/part-00001.ndjson.gz`); the S3 key is `<exportPrefix>/<key>`. */
  readonly key: string;
  /** NDJSON lines (records) in the part. */
  readonly records: number;
  /** Size of the stored (gzip) object, in bytes. */
  readonly bytes: number;
  /** SHA-256 of the stored (gzip) object, lowercase hex. */
  readonly sha256: string;
}

export interface PartLimits {
  /** Records read per `exportPage` call (at most). */
  readonly pageSize: number;
  /** A part closes once it holds this many records (exactly: pages are asked for no more than fit). */
  readonly maxRecordsPerPart: number;
  /** A part closes once this many bytes of NDJSON (before compression) went in; it may overshoot by one page. */
  readonly maxBytesPerPart: number;
}

/** Defaults: 10,000 records or 64 MiB of NDJSON per part, pages of 500 records. */
export const DEFAULT_PART_LIMITS: PartLimits = { pageSize: 500, maxRecordsPerPart: 10_000, maxBytesPerPart: 64 * 1024 * 1024 };

export interface WritePartsRequest {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The export's root prefix, without a trailing slash (`exports/<tenant>/<operation>`). */
  readonly exportPrefix: string;
  readonly source: DataSource;
  readonly tenantId: string;
  /** Where to start reading: null for the source's first page. */
  readonly cursor: string | null;
  /** The number of the first part this call writes (1-based, from the caller's position). */
  readonly firstPart: number;
  /** Write at most this many parts in this call (≥ 1). */
  readonly maxParts: number;
  /** Start no new part after this instant (epoch ms); the part being written is finished. */
  readonly deadline: number;
  readonly limits?: PartLimits;
  readonly now?: () => number;
}

export interface WritePartsResult {
  /** The parts this call wrote, in order (none for a source with nothing left). */
  readonly parts: readonly ExportPart[];
  /** Where the next call starts; null once the source is exhausted. */
  readonly nextCursor: string | null;
  /** Records written by this call. */
  readonly exported: number;
}

/** The part's file name inside its source's folder: `part-00001.ndjson.gz`. */
export function partFileName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, '0')}.ndjson.gz`;
}

/**
 * Write the next parts of `source` for `tenantId`. Throws what the source throws (DataSourceCursorError for a
 * cursor it did not issue) and what S3 throws; a part whose upload fails is aborted (no partial object).
 */
export async function writeParts(request: WritePartsRequest): Promise<WritePartsResult> {
  const limits = request.limits ?? DEFAULT_PART_LIMITS;
  const now = request.now ?? Date.now;
  const parts: ExportPart[] = [];
  const readPage = (from: string | null) => request.source.exportPage(request.tenantId, from, Math.min(limits.pageSize, limits.maxRecordsPerPart));
  const isEnd = (page: DataPage) => page.records.length === 0 && page.nextCursor === null;
  let cursor = request.cursor;
  let exported = 0;
  let exhausted = false;
  // The first page of a part is read before the part is opened, so an exhausted source makes no empty part.
  let first = await readPage(cursor);
  if (isEnd(first)) return { parts, nextCursor: null, exported };
  for (;;) {
    const partNumber = request.firstPart + parts.length;
    const key = `${request.source.name}/${partFileName(partNumber)}`;
    const reader = new PartReader(request, limits, cursor, first);
    const written = await uploadPart(request, key, Readable.from(reader.lines()));
    parts.push({ key, records: reader.records, bytes: written.bytes, sha256: written.sha256 });
    exported += reader.records;
    cursor = reader.cursor;
    exhausted = reader.exhausted;
    if (exhausted || parts.length >= request.maxParts || now() >= request.deadline) break;
    first = await readPage(cursor);
    // The part just written ended exactly at the source's end: the last page is empty.
    exhausted = isEnd(first);
    if (exhausted) break;
  }
  return { parts, nextCursor: exhausted ? null : cursor, exported };
}

/** Reads the pages of one part, from a first page already read, and remembers where it stopped. */
class PartReader {
  records = 0;
  bytes = 0;
  cursor: string | null;
  exhausted = false;
  readonly #request: WritePartsRequest;
  readonly #limits: PartLimits;
  #first: DataPage | undefined;

  constructor(request: WritePartsRequest, limits: PartLimits, cursor: string | null, first: DataPage) {
    this.#request = request;
    this.#limits = limits;
    this.#first = first;
    this.cursor = cursor;
  }

  async *lines(): AsyncGenerator<Buffer> {
    while (!this.exhausted && this.records < this.#limits.maxRecordsPerPart && this.bytes < this.#limits.maxBytesPerPart) {
      const page = this.#first ?? (await this.#request.source.exportPage(this.#request.tenantId, this.cursor, Math.min(this.#limits.pageSize, this.#limits.maxRecordsPerPart - this.records)));
      this.#first = undefined;
      let text = '';
      for (const record of page.records) text += `${JSON.stringify(record)}\n`;
      const chunk = Buffer.from(text, 'utf8');
      this.records += page.records.length;
      this.bytes += chunk.length;
      if (page.nextCursor === null) this.exhausted = true;
      else this.cursor = page.nextCursor;
      if (chunk.length > 0) yield chunk;
    }
  }
}

/** Stream `lines` through gzip and a sha256/size meter into one S3 object at `<exportPrefix>/<key>`. */
async function uploadPart(request: WritePartsRequest, key: string, lines: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const body = new PassThrough();
  // Loaded on first use: deployed, a file of its own (./s3-transfer-sdk.ts).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Upload } = require('./s3-transfer-sdk') as typeof import('./s3-transfer-sdk');
  const upload = new Upload({
    client: request.s3,
    // 8 MiB upload parts, two in flight: the memory a part costs whatever its size.
    partSize: 8 * 1024 * 1024,
    queueSize: 2,
    params: { Bucket: request.bucket, Key: `${request.exportPrefix}/${key}`, Body: body, ContentType: 'application/gzip' },
  });
  const uploaded = upload.done().catch((error: unknown) => {
    // Unblock the pipeline feeding a failed upload.
    body.destroy(error as Error);
    throw error;
  });
  try {
    await Promise.all([pipeline(lines, createGzip({ level: 6 }), meter, body), uploaded]);
  } catch (error) {
    await upload.abort().catch(() => undefined);
    await uploaded.catch(() => undefined);
    throw error;
  }
  return { bytes, sha256: hash.digest('hex') };
}
