/**
 * The export store port: where finished exports are kept, how a download is handed out, and when an export
 * is gone. A download is a presigned GetObject URL (SigV4 query string, `@aws-sdk/s3-request-presigner`),
 * valid for minutes and made fresh on each request, never stored.
 *
 * Retention: on AWS the export bucket's lifecycle rule deletes the objects (infra/constructs/export-bucket.ts,
 * 30 days by default); `S3ExportStore` refuses downloads past that time, as the objects may linger until the
 * rule runs. The local S3 server has no lifecycle configuration, so `LocalExportStore` enforces the expiry
 * itself: a download past it deletes the export's objects and is refused, and `expire` deletes what is due.
 */
import * as clock from '../shared/clock';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ExportExpiredError } from './errors';

/** One kept export, as its operation record knows it. */
export interface StoredExport {
  /** The export's root prefix in the bucket (`exports/<tenant>/<export id>`), no trailing slash. */
  readonly prefix: string;
  /** When the export was completed (ISO 8601): retention counts from here. */
  readonly completedAt: string;
}

export interface DownloadLink {
  /** Path of the file inside the export (`manifest.json`, `documents/part-00001.ndjson.gz`). */
  readonly key: string;
  readonly url: string;
  /** When the URL stops working (ISO 8601). */
  readonly expiresAt: string;
}

export interface ExportStore {
  /** When the export is (or was) deleted by retention (ISO 8601). */
  expiresAt(stored: StoredExport): string;
  isExpired(stored: StoredExport): boolean;
  /**
   * A presigned GET URL for one file of the export, valid `validForSeconds` (default 900, capped at the
   * export's expiry). Throws ExportExpiredError once the export is past its retention.
   */
  presignDownload(stored: StoredExport, key: string, validForSeconds?: number): Promise<DownloadLink>;
  /** Delete the export's objects if it is past its retention (a no-op where the bucket's lifecycle does it); how many were deleted. */
  expire(stored: StoredExport): Promise<{ readonly deleted: number }>;
}

export interface S3ExportStoreOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Days an export is kept after completion: the bucket's lifecycle expiry. */
  readonly retentionDays: number;
  readonly now?: () => Date;
}

/** Default validity of a download URL: 15 minutes. */
export const DOWNLOAD_URL_SECONDS = 900;
const DAY_MS = 86_400_000;

/** The AWS adapter: the bucket's lifecycle rule deletes expired exports; downloads past the expiry are refused. */
export class S3ExportStore implements ExportStore {
  protected readonly options: S3ExportStoreOptions;

  constructor(options: S3ExportStoreOptions) {
    if (!(options.retentionDays > 0)) throw new RangeError(`retentionDays must be a positive number of days, got ${options.retentionDays}.`);
    this.options = options;
  }

  protected now(): Date {
    return clock.nowOf(this.options);
  }

  expiresAt(stored: StoredExport): string {
    const completed = Date.parse(stored.completedAt);
    if (Number.isNaN(completed)) throw new RangeError(`completedAt '${stored.completedAt}' is not an ISO 8601 time.`);
    return new Date(completed + this.options.retentionDays * DAY_MS).toISOString();
  }

  isExpired(stored: StoredExport): boolean {
    return this.now().getTime() >= Date.parse(this.expiresAt(stored));
  }

  async presignDownload(stored: StoredExport, key: string, validForSeconds = DOWNLOAD_URL_SECONDS): Promise<DownloadLink> {
    if (!/^[\w.-]+(\/[\w.-]+)*$/.test(key) || key.split('/').includes('..')) throw new RangeError(`'${key}' is not a file of an export.`);
    if (this.isExpired(stored)) await this.refuseExpired(stored);
    const left = Math.floor((Date.parse(this.expiresAt(stored)) - this.now().getTime()) / 1000);
    // SigV4 presigned URLs last at most 7 days; never beyond the export itself.
    const expiresIn = Math.max(1, Math.min(validForSeconds, left, 604_800));
    // Loaded on first use: deployed, a file of its own (./s3-transfer-sdk.ts).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { getSignedUrl } = require('./s3-transfer-sdk') as typeof import('./s3-transfer-sdk');
    const url = await getSignedUrl(this.options.s3, new GetObjectCommand({ Bucket: this.options.bucket, Key: `${stored.prefix}/${key}` }), {
      expiresIn,
      signingDate: this.now(),
    });
    return { key, url, expiresAt: new Date(this.now().getTime() + expiresIn * 1000).toISOString() };
  }

  async expire(_stored: StoredExport): Promise<{ readonly deleted: number }> {
    return { deleted: 0 };
  }

  protected async refuseExpired(stored: StoredExport): Promise<never> {
    throw new ExportExpiredError(`The export at ${stored.prefix} expired at ${this.expiresAt(stored)} (kept ${this.options.retentionDays} days); request a new export.`);
  }

  protected async deleteAll(stored: StoredExport): Promise<number> {
    return deleteUnderPrefix(this.options.s3, this.options.bucket, stored.prefix);
  }
}

/** Delete every object under `<prefix>/` (pages of up to 1,000 keys, DeleteObjects' limit); how many were deleted. */
export async function deleteUnderPrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [{ Key: object.Key }] : []));
    if (keys.length === 0) return deleted;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    deleted += keys.length;
  }
}

/**
 * The local adapter (the embedded stack's S3 server has no lifecycle rules): expiry enforced here. A download
 * asked for past the expiry deletes the export and is refused; `expire` deletes an export that is due.
 */
export class LocalExportStore extends S3ExportStore {
  override async expire(stored: StoredExport): Promise<{ readonly deleted: number }> {
    if (!this.isExpired(stored)) return { deleted: 0 };
    return { deleted: await this.deleteAll(stored) };
  }

  protected override async refuseExpired(stored: StoredExport): Promise<never> {
    await this.deleteAll(stored);
    return super.refuseExpired(stored);
  }
}
