/**
 * The part writer against the local S3 server: where parts close (records, bytes), where a call stops (parts,
 * deadline) and resumes (cursor), that a retried call rewrites the same keys with the same bytes, and that a
 * part whose source fails half-way leaves no object behind.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DataRecord, DataSource } from '../../../functions/data-sources/data-source';
import { DataSourceCursorError } from '../../../functions/data-sources/data-source';
import { partFileName, writeParts, type WritePartsRequest } from '../../../functions/export/part-writer';
import { config } from '../../../functions/shared/config';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { memorySource } from '../../support/test-data-sources';

const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `parts-${config.tableName.slice(-8)}`;
const records: DataRecord[] = Array.from({ length: 95 }, (_, i) => ({ i, text: `record ${i} ✓`.padEnd(60, '.') }));
const source = memorySource('items', { t1: records, empty: [] });
let prefixes = 0;

function request(overrides: Partial<WritePartsRequest> = {}): WritePartsRequest {
  prefixes += 1;
  return {
    s3,
    bucket,
    exportPrefix: `exports/t1/exp_${prefixes}`,
    source,
    tenantId: 't1',
    cursor: null,
    firstPart: 1,
    maxParts: 100,
    deadline: Date.now() + 60_000,
    limits: { pageSize: 10, maxRecordsPerPart: 30, maxBytesPerPart: 1024 * 1024 },
    ...overrides,
  };
}

async function stored(prefix: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
  return Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());

describe('writeParts', () => {
  it('should close parts at the record threshold, number them from firstPart, and measure each as stored', async () => {
    const req = request({ firstPart: 4 });
    const result = await writeParts(req);
    expect(result.parts.map((part) => [part.key, part.records])).toEqual([
      ['items/part-00004.ndjson.gz', 30],
      ['items/part-00005.ndjson.gz', 30],
      ['items/part-00006.ndjson.gz', 30],
      ['items/part-00007.ndjson.gz', 5],
    ]);
    expect(result).toMatchObject({ nextCursor: null, exported: 95 });
    const decoded: DataRecord[] = [];
    for (const part of result.parts) {
      const bytes = await stored(req.exportPrefix, part.key);
      expect([bytes.length, createHash('sha256').update(bytes).digest('hex')]).toEqual([part.bytes, part.sha256]);
      decoded.push(...gunzipSync(bytes).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as DataRecord));
    }
    expect(decoded).toEqual(records);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${req.exportPrefix}/items/part-00004.ndjson.gz` }));
    expect(head.ContentType).toBe('application/gzip');
  });

  it('should close a part at the byte threshold, after the page that crossed it', async () => {
    const result = await writeParts(request({ limits: { pageSize: 10, maxRecordsPerPart: 1000, maxBytesPerPart: 1500 } }));
    // A page of 10 records is ~800 bytes of NDJSON: a part closes after the second page, past 1,500 bytes.
    const pageBytes = Buffer.byteLength(records.slice(0, 10).map((record) => `${JSON.stringify(record)}\n`).join(''));
    expect(pageBytes).toBeGreaterThan(750);
    expect(pageBytes).toBeLessThan(1500);
    expect(result.parts.map((part) => part.records)).toEqual([20, 20, 20, 20, 15]);
  });

  it('should stop after maxParts and resume from the cursor it answered, to the same records', async () => {
    const first = await writeParts(request({ maxParts: 2 }));
    expect(first).toMatchObject({ nextCursor: '60', exported: 60 });
    expect(first.parts).toHaveLength(2);
    const rest = await writeParts(request({ cursor: first.nextCursor, firstPart: 3 }));
    expect(rest.parts.map((part) => part.key)).toEqual(['items/part-00003.ndjson.gz', 'items/part-00004.ndjson.gz']);
    expect(rest).toMatchObject({ nextCursor: null, exported: 35 });
  });

  it('should start no new part after the deadline', async () => {
    const result = await writeParts(request({ deadline: 0 }));
    expect(result.parts).toHaveLength(1);
    expect(result).toMatchObject({ nextCursor: '30', exported: 30 });
  });

  it('should write the same bytes to the same keys when a call is repeated (a retried step overwrites)', async () => {
    const req = request({ maxParts: 2 });
    const once = await writeParts(req);
    const again = await writeParts(req);
    expect(again).toEqual(once);
    expect((await stored(req.exportPrefix, 'items/part-00002.ndjson.gz')).length).toBe(once.parts[1]?.bytes);
  });

  it('should write no part for an empty source, and end a source whose last part ended exactly at its end', async () => {
    expect(await writeParts(request({ tenantId: 'empty' }))).toEqual({ parts: [], nextCursor: null, exported: 0 });
    const exact = memorySource('items', { t1: records.slice(0, 60) });
    const result = await writeParts(request({ source: exact, limits: { pageSize: 30, maxRecordsPerPart: 30, maxBytesPerPart: 1024 * 1024 } }));
    expect(result.parts.map((part) => part.records)).toEqual([30, 30]);
    expect(result.nextCursor).toBeNull();
  });

  it('should leave no object behind when the source fails half-way through a part, and throw its error', async () => {
    let pages = 0;
    const failing: DataSource = {
      ...source,
      exportPage: async (tenantId, cursor, limit) => {
        pages += 1;
        if (pages === 3) throw new DataSourceCursorError('items');
        return source.exportPage(tenantId, cursor, limit);
      },
    };
    const req = request({ source: failing });
    await expect(writeParts(req)).rejects.toThrow(DataSourceCursorError);
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${req.exportPrefix}/items/${partFileName(1)}` }))).rejects.toMatchObject({ name: 'NotFound' });
  });
});
