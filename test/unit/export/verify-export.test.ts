/**
 * Verification of an export against its manifest (functions/export/verify-export.ts) over S3 answers that a
 * local S3 server does not give on demand: a missing object reported by name only, an access error, a listing
 * in several pages or with no Contents, parts large enough to fill the decompressor's buffer, and bytes that
 * match the manifest but are not gzip. The README's sections for a source without a description
 * (functions/export/manifest.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { DataSource } from '../../../functions/data-sources/data-source';
import { exportReadme, MANIFEST_FORMAT_VERSION, type ExportManifest } from '../../../functions/export/manifest';
import type { ExportPart } from '../../../functions/export/part-writer';
import { verifyExport } from '../../../functions/export/verify-export';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const PREFIX = 'exports/acme/op_1';

function part(key: string, stored: Buffer, records: number): ExportPart {
  return { key, records, bytes: stored.length, sha256: createHash('sha256').update(stored).digest('hex') };
}

function manifest(sources: ExportManifest['sources']): ExportManifest {
  return { formatVersion: MANIFEST_FORMAT_VERSION, tenantId: 'acme', exportId: 'op_1', requestedAt: '2026-01-01T00:00:00.000Z', generatedAt: '2026-01-01T00:01:00.000Z', format: 'ndjson+gzip', sources };
}

/** The stored object's body, in chunks of `chunk` bytes (as S3 streams it). */
function body(stored: Buffer, chunk = 64 * 1024) {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stored.length; i += chunk) chunks.push(stored.subarray(i, i + chunk));
  return Readable.from(chunks) as never;
}

const ndjson = (records: number, pad = 0) => Buffer.from(Array.from({ length: records }, (_, i) => `${JSON.stringify({ id: i, pad: 'x'.repeat(pad) })}\n`).join(''));

beforeEach(() => s3Mock.reset());

describe('Function: verifyExport (S3 answers)', () => {
  it('should report a part S3 says is missing by error name only (NoSuchKey from another SDK copy)', async () => {
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }));
    s3Mock.on(ListObjectsV2Command).resolves({});
    const gz = gzipSync(ndjson(2));
    const result = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'documents', expected: 2, exported: 2, parts: [part('documents/part-00001.ndjson.gz', gz, 2)] }]));
    expect(result.problems).toEqual(['part documents/part-00001.ndjson.gz is missing']);
  });

  it('should throw what S3 throws beyond a missing object (access denied is not "missing")', async () => {
    s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    s3Mock.on(ListObjectsV2Command).resolves({});
    const gz = gzipSync(ndjson(1));
    await expect(verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'tenant', expected: 1, exported: 1, parts: [part('tenant/part-00001.ndjson.gz', gz, 1)] }]))).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('should find an unlisted part on a later page of the listing, and ignore non-part files', async () => {
    const gz = gzipSync(ndjson(3));
    s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(gz) }));
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: 'page-2', Contents: [{ Key: `${PREFIX}/documents/part-00001.ndjson.gz` }, { Key: `${PREFIX}/manifest.json` }, {}] })
      .resolvesOnce({ IsTruncated: false, Contents: [{ Key: `${PREFIX}/documents/part-00002.ndjson.gz` }, { Key: `${PREFIX}/README.md` }] });
    const result = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'documents', expected: 3, exported: 3, parts: [part('documents/part-00001.ndjson.gz', gz, 3)] }]));
    expect(result).toEqual({ parts: 1, records: 3, bytes: gz.length, problems: ['part documents/part-00002.ndjson.gz is stored but not in the manifest'] });
    expect(s3Mock.commandCalls(ListObjectsV2Command)[1]?.args[0].input).toMatchObject({ Prefix: `${PREFIX}/`, ContinuationToken: 'page-2' });
  });

  it('should count every record of a part larger than the decompressor buffers (waits for it to drain)', async () => {
    // Incompressible padding keeps the gzip as large as its content: many 64 KiB chunks, each over the buffer.
    const records = Array.from({ length: 400 }, (_, i) => `${JSON.stringify({ id: i, blob: randomBytes(1500).toString('base64') })}\n`).join('');
    const gz = gzipSync(Buffer.from(records));
    expect(gz.length).toBeGreaterThan(512 * 1024);
    s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(gz) }));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${PREFIX}/documents/part-00001.ndjson.gz` }] });
    const good = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'documents', expected: 400, exported: 400, parts: [part('documents/part-00001.ndjson.gz', gz, 400)] }]));
    expect(good).toEqual({ parts: 1, records: 400, bytes: gz.length, problems: [] });
    const short = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'documents', expected: 401, exported: 401, parts: [part('documents/part-00001.ndjson.gz', gz, 401)] }]));
    expect(short.problems).toEqual(['part documents/part-00001.ndjson.gz holds 400 records; the manifest says 401']);
  });

  it('should report a part whose bytes match the manifest but are not gzip, however large', async () => {
    const notGzip = randomBytes(300 * 1024);
    s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(notGzip) }));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${PREFIX}/tenant/part-00001.ndjson.gz` }] });
    const result = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'tenant', expected: 1, exported: 1, parts: [part('tenant/part-00001.ndjson.gz', notGzip, 1)] }]));
    expect(result.problems).toEqual(['part tenant/part-00001.ndjson.gz holds 0 records; the manifest says 1']);
  });

  it('should report a source whose parts do not add up to its exported count', async () => {
    const gz = gzipSync(ndjson(2));
    s3Mock.on(GetObjectCommand).callsFake(() => ({ Body: body(gz) }));
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${PREFIX}/documents/part-00001.ndjson.gz` }] });
    const result = await verifyExport(s3, 'exports', PREFIX, manifest([{ name: 'documents', expected: 5, exported: 5, parts: [part('documents/part-00001.ndjson.gz', gz, 2)] }]));
    expect(result.problems).toEqual(["source 'documents' lists 2 records in its parts but 5 exported"]);
  });
});

describe('Function: exportReadme', () => {
  it('should describe a source it has no description for as such, with its counts and no field list', () => {
    const documents = { name: 'documents', description: { summary: 'Files the tenant uploaded.', fields: { key: 'S3 key of the file.' } } } as unknown as DataSource;
    const readme = exportReadme(
      manifest([
        { name: 'documents', expected: 2, exported: 2, parts: [] },
        { name: 'legacy', expected: 3, exported: 3, parts: [{ key: 'legacy/part-00001.ndjson.gz', records: 3, bytes: 10, sha256: 'a' }] },
      ]),
      [documents],
    );
    expect(readme).toContain('### documents\n\nFiles the tenant uploaded. 2 records in 0 part(s).\n\n- `key`: S3 key of the file.');
    expect(readme.endsWith('### legacy\n\nNo description. 3 records in 1 part(s).\n\n')).toBe(true);
  });
});
