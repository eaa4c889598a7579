/**
 * Where the API finds a finished export's files (functions/export/export-files.ts): the retention an operator
 * configures (EXPORT_RETENTION_DAYS), the store chosen for AWS or the local stack, and the error that names
 * the missing bucket.
 */
import { S3Client } from '@aws-sdk/client-s3';

type ExportFilesModule = typeof import('../../../functions/export/export-files');

const saved = { ...process.env };
const completedAt = '2026-01-01T00:00:00.000Z';
const daysLater = (days: number) => new Date(Date.parse(completedAt) + days * 86_400_000).toISOString();

/** A fresh copy of the module: exportFiles() keeps what it built on first use. */
function freshModule(): ExportFilesModule {
  let loaded: ExportFilesModule | undefined;
  jest.isolateModules(() => {
    loaded = jest.requireActual<ExportFilesModule>('../../../functions/export/export-files');
  });
  return loaded!;
}

afterEach(() => {
  process.env = { ...saved };
});

describe('Function: exportRetentionDays', () => {
  const { exportRetentionDays } = freshModule();

  it.each([
    [undefined, 30],
    ['', 30],
    ['7', 7],
    ['365', 365],
  ])('should keep exports %s → %d days', (raw, days) => {
    expect(exportRetentionDays(raw === undefined ? {} : { EXPORT_RETENTION_DAYS: raw })).toBe(days);
  });

  it.each(['0', '-3', '1.5', 'thirty', '7 days'])("should refuse EXPORT_RETENTION_DAYS='%s' with a ConfigurationError naming the variable and the value", (raw) => {
    // By name: each fresh copy of the module has its own ConfigurationError class.
    expect(() => exportRetentionDays({ EXPORT_RETENTION_DAYS: raw })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining(`EXPORT_RETENTION_DAYS must be a positive whole number of days, got '${raw}'`) }),
    );
  });
});

describe('Function: s3ExportFiles', () => {
  const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  it('should keep exports the given days, else EXPORT_RETENTION_DAYS', async () => {
    const { s3ExportFiles } = freshModule();
    const given = await s3ExportFiles({ s3, bucket: 'exports', local: false, retentionDays: 3 });
    expect(given.store.expiresAt({ prefix: 'exports/acme/op_1', completedAt })).toBe(daysLater(3));
    process.env.EXPORT_RETENTION_DAYS = '10';
    const configured = await s3ExportFiles({ s3, bucket: 'exports', local: false });
    expect(configured.store.expiresAt({ prefix: 'exports/acme/op_1', completedAt })).toBe(daysLater(10));
  });

  it('should use the store that deletes expired files itself locally (no bucket lifecycle there), and the S3 one on AWS', async () => {
    const { s3ExportFiles } = freshModule();
    const { LocalExportStore, S3ExportStore } = await import('../../../functions/export/export-store');
    const local = await s3ExportFiles({ s3, bucket: 'exports', local: true, retentionDays: 1 });
    const aws = await s3ExportFiles({ s3, bucket: 'exports', local: false, retentionDays: 1 });
    expect(local.store.constructor.name).toBe(LocalExportStore.name);
    expect(aws.store.constructor.name).toBe(S3ExportStore.name);
    // Past retention, the local store deletes the files; on AWS the bucket's lifecycle rule does.
    const now = () => new Date(daysLater(2));
    const awsPast = await s3ExportFiles({ s3, bucket: 'exports', local: false, retentionDays: 1, now });
    expect(awsPast.store.isExpired({ prefix: 'exports/acme/op_1', completedAt })).toBe(true);
    expect(await awsPast.store.expire({ prefix: 'exports/acme/op_1', completedAt })).toEqual({ deleted: 0 });
  });
});

describe('Function: exportFiles', () => {
  it('should name EXPORTS_BUCKET when it is not configured', async () => {
    delete process.env.EXPORTS_BUCKET;
    await expect(freshModule().exportFiles()).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('Environment variable EXPORTS_BUCKET is required to download exports') });
  });

  it('should build the S3 store over EXPORTS_BUCKET with the configured retention, once', async () => {
    process.env.EXPORTS_BUCKET = 'exports-test';
    process.env.EXPORT_RETENTION_DAYS = '5';
    const { exportFiles } = freshModule();
    const first = await exportFiles();
    expect(first.store.expiresAt({ prefix: 'exports/acme/op_1', completedAt })).toBe(daysLater(5));
    expect(await exportFiles()).toBe(first);
  });

  it('should answer the installed files instead (the local stack)', async () => {
    delete process.env.EXPORTS_BUCKET;
    const { exportFiles, setExportFiles } = freshModule();
    const installed = { store: {} as never, manifest: async () => ({}) as never };
    setExportFiles(installed);
    expect(await exportFiles()).toBe(installed);
  });
});
