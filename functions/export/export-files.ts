/**
 * Where the API finds a finished export's files: the export store that presigns downloads and the manifest in
 * the export bucket. On AWS, S3ExportStore over the function's S3 client (its role's s3:GetObject on
 * `exports/*` is what a presigned URL may fetch), kept EXPORT_RETENTION_DAYS (the bucket's lifecycle expiry).
 * Locally, the embedded stack installs LocalExportStore on a client with the local S3 server's credentials
 * (setExportFiles), as it installs its workflow runner. The S3 SDK is loaded on first use, not at cold init.
 */
import { ConfigurationError, config } from '../shared/config';
import { onFirstUse } from '../shared/on-first-use';
import type { ExportFiles } from './export-request';

/** Default days an export is kept (infra/constructs/export-bucket.ts DEFAULT_EXPORT_RETENTION_DAYS). */
const DEFAULT_RETENTION_DAYS = 30;

/** Days an export is kept after completion: EXPORT_RETENTION_DAYS, 30 by default. ConfigurationError when not a positive integer. */
export function exportRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EXPORT_RETENTION_DAYS;
  if (raw === undefined || raw === '') return DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1) throw new ConfigurationError(`Environment variable EXPORT_RETENTION_DAYS must be a positive whole number of days, got '${raw}'.`);
  return days;
}

/** ExportFiles over an S3 client and the export bucket, with `store` made from them. */
export async function s3ExportFiles(options: {
  readonly s3: import('@aws-sdk/client-s3').S3Client;
  readonly bucket: string;
  readonly local: boolean;
  readonly retentionDays?: number;
  readonly now?: () => Date;
}): Promise<ExportFiles> {
  const [{ GetObjectCommand }, { S3ExportStore, LocalExportStore }] = await Promise.all([import('@aws-sdk/client-s3'), import('./export-store')]);
  const Store = options.local ? LocalExportStore : S3ExportStore;
  const store = new Store({ s3: options.s3, bucket: options.bucket, retentionDays: options.retentionDays ?? exportRetentionDays(), ...(options.now ? { now: options.now } : {}) });
  return {
    store,
    manifest: async (prefix) => {
      const { MANIFEST_FILE } = await import('./manifest');
      const object = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: `${prefix}/${MANIFEST_FILE}` }));
      return JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString());
    },
  };
}

let files: (() => Promise<ExportFiles>) | undefined;

/** The installed ExportFiles, else S3ExportStore over the shared S3 client and EXPORTS_BUCKET. */
export function exportFiles(): Promise<ExportFiles> {
  files ??= onFirstUse(async () => {
    const bucket = config.exportsBucket;
    if (!bucket) throw new ConfigurationError('Environment variable EXPORTS_BUCKET is required to download exports: the bucket exports are written to.');
    const { getS3Client } = await import('../shared/s3-client');
    return s3ExportFiles({ s3: getS3Client(), bucket, local: false });
  });
  return files();
}

/** Install ExportFiles (the local stack and tests: LocalExportStore with the local S3 server's credentials). */
export function setExportFiles(next: ExportFiles): void {
  files = () => Promise.resolve(next);
}
