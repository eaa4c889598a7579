/**
 * Downloads and retention of kept exports against the local S3 server: a presigned GET URL made fresh per
 * request serves the stored bytes, stops working when it expires, and is refused once the export is past its
 * retention; the local adapter deletes expired exports (S3 lifecycle does it on AWS).
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ExportExpiredError } from '../../../functions/export/errors';
import { LocalExportStore, S3ExportStore, type StoredExport } from '../../../functions/export/export-store';
import { config } from '../../../functions/shared/config';
import { localS3ClientConfig } from '../../../infra/local/s3-local';

const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `exports-store-${config.tableName.slice(-8)}`;
const DAY = 86_400_000;
let clock = new Date('2026-11-29T12:00:00.000Z');
const local = new LocalExportStore({ s3, bucket, retentionDays: 30, now: () => clock });

async function putExport(prefix: string): Promise<void> {
  for (const [key, body] of [['manifest.json', '{"formatVersion":1}'], ['usage/part-00001.ndjson.gz', 'gzip bytes']]) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: body }));
  }
}

async function keys(prefix: string): Promise<number> {
  return (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }))).KeyCount ?? 0;
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());
beforeEach(() => {
  clock = new Date();
});

describe('Export store: downloads', () => {
  it('should hand out a presigned URL, valid 15 minutes by default, that serves the stored bytes', async () => {
    const stored: StoredExport = { prefix: 'exports/t1/exp_1', completedAt: new Date(clock.getTime() - DAY).toISOString() };
    await putExport(stored.prefix);
    const link = await local.presignDownload(stored, 'usage/part-00001.ndjson.gz');
    expect(link.url).toMatch(/X-Amz-Expires=900&/);
    expect(link.url).toContain(`X-Amz-Credential=${process.env.S3_LOCAL_ACCESS_KEY_ID as string}%2F`);
    expect(Date.parse(link.expiresAt) - clock.getTime()).toBe(900_000);
    const response = await fetch(link.url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('gzip bytes');
  });

  it('should make a fresh URL per request, and one that has expired no longer works', async () => {
    const stored: StoredExport = { prefix: 'exports/t1/exp_2', completedAt: new Date(clock.getTime() - DAY).toISOString() };
    await putExport(stored.prefix);
    const signedEarlier = new LocalExportStore({ s3, bucket, retentionDays: 30, now: () => new Date(Date.now() - 120_000) });
    const old = await signedEarlier.presignDownload(stored, 'manifest.json', 60);
    expect((await fetch(old.url)).status).toBe(403);
    const fresh = await local.presignDownload(stored, 'manifest.json', 60);
    expect(fresh.url).not.toBe(old.url);
    expect((await fetch(fresh.url)).status).toBe(200);
  });

  it('should never let a URL outlive the export', async () => {
    const stored: StoredExport = { prefix: 'exports/t1/exp_3', completedAt: new Date(clock.getTime() - 30 * DAY + 120_000).toISOString() };
    const link = await local.presignDownload(stored, 'manifest.json');
    expect(link.url).toMatch(/X-Amz-Expires=120&/);
  });

  it('should refuse a key that is not a file of the export', async () => {
    const stored: StoredExport = { prefix: 'exports/t1/exp_4', completedAt: clock.toISOString() };
    for (const key of ['../other/manifest.json', '/etc/passwd', 'usage/../../x', '']) await expect(local.presignDownload(stored, key)).rejects.toThrow(RangeError);
  });
});

describe('Export store: retention', () => {
  it('should refuse a download past the retention and, locally, delete the export', async () => {
    const stored: StoredExport = { prefix: 'exports/t2/exp_old', completedAt: new Date(clock.getTime() - 31 * DAY).toISOString() };
    await putExport(stored.prefix);
    expect(local.isExpired(stored)).toBe(true);
    await expect(local.presignDownload(stored, 'manifest.json')).rejects.toThrow(ExportExpiredError);
    await expect(local.presignDownload(stored, 'manifest.json')).rejects.toThrow(/expired at .* \(kept 30 days\); request a new export/);
    expect(await keys(stored.prefix)).toBe(0);
  });

  it('should expire exports that are due and keep the others (local adapter)', async () => {
    const due: StoredExport = { prefix: 'exports/t3/exp_due', completedAt: new Date(clock.getTime() - 30 * DAY - 1000).toISOString() };
    const kept: StoredExport = { prefix: 'exports/t3/exp_kept', completedAt: new Date(clock.getTime() - 29 * DAY).toISOString() };
    await putExport(due.prefix);
    await putExport(kept.prefix);
    expect(await local.expire(due)).toEqual({ deleted: 2 });
    expect(await local.expire(kept)).toEqual({ deleted: 0 });
    expect(await keys(due.prefix)).toBe(0);
    expect(await keys(kept.prefix)).toBe(2);
    expect(local.expiresAt(kept)).toBe(new Date(Date.parse(kept.completedAt) + 30 * DAY).toISOString());
  });

  it('should leave deletion to the bucket lifecycle on AWS: the S3 adapter refuses but deletes nothing', async () => {
    const aws = new S3ExportStore({ s3, bucket, retentionDays: 7, now: () => clock });
    const stored: StoredExport = { prefix: 'exports/t4/exp_old', completedAt: new Date(clock.getTime() - 8 * DAY).toISOString() };
    await putExport(stored.prefix);
    await expect(aws.presignDownload(stored, 'manifest.json')).rejects.toThrow(ExportExpiredError);
    expect(await aws.expire(stored)).toEqual({ deleted: 0 });
    expect(await keys(stored.prefix)).toBe(2);
  });

  it('should reject a retention that is not a positive number of days, and a completion time that is not a time', () => {
    expect(() => new S3ExportStore({ s3, bucket, retentionDays: 0 })).toThrow(/positive number of days/);
    expect(() => local.expiresAt({ prefix: 'x', completedAt: 'yesterday' })).toThrow(/not an ISO 8601 time/);
  });
});
