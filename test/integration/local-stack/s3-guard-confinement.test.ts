/**
 * The local S3 server stays in its folder and its memory, whatever reaches it (issue 13, F1; from a second review
 * of the guard, every case failed on 9be9d41). Two attackers: (1) an export-link holder (key id, no secret); (2) a
 * client signing with the secret, and what it could do outside s3rver's folder (`<root>/data/s3` here;
 * `<root>/victim` and `<root>/data` stand for `.local/dynamodb`): backslashes read as slashes, upload ids and part
 * numbers, DeleteObjects keys, a POST form's key, copy sources, and a key too long for a file name.
 */
import { createHash } from 'node:crypto';
import { sendRaw, signedRaw } from '../../support/s3-raw';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { localS3ClientConfig, startS3Local, type S3Local } from '../../../infra/local/s3-local';
import { newLocalCredentials, type LocalCredentials } from '../../../infra/local/loopback-env';

let s3: S3Local;
let key: LocalCredentials;
let own: S3Client;
let root: string;
let victim: string;
let link: URL;

beforeAll(async () => {
  key = newLocalCredentials();
  root = mkdtempSync(join(tmpdir(), 's3-guard-review3-'));
  s3 = await startS3Local({ directory: join(root, 'data', 's3'), buckets: ['tenant-documents', 'tenant-exports'], credentials: key });
  own = new S3Client({ ...localS3ClientConfig(s3.endpoint, key), maxAttempts: 1 });
  await own.send(new PutObjectCommand({ Bucket: 'tenant-exports', Key: 'exports/acme-corp/op_1/manifest.json', Body: '{"tenantId":"acme-corp"}' }));
  link = new URL(await getSignedUrl(own, new GetObjectCommand({ Bucket: 'tenant-exports', Key: 'exports/acme-corp/op_1/manifest.json' }), { expiresIn: 900 }));
}, 60_000);

beforeEach(() => {
  victim = join(root, 'victim');
  rmSync(victim, { recursive: true, force: true });
  mkdirSync(join(victim, 'sub'), { recursive: true });
  writeFileSync(join(victim, 'sub', 'precious.txt'), 'precious');
  writeFileSync(join(victim, 'loot._S3rver_object'), 'outside file');
});

afterAll(async () => {
  own?.destroy();
  await s3?.stop();
  rmSync(root, { recursive: true, force: true });
});

const exchange = (bytes: Buffer) => sendRaw(s3.port, bytes);
const signed = (method: string, target: string, headers: Record<string, string> = {}, body = '', hashBody = false) => signedRaw(s3.port, key, method, target, { headers, body, hashBody });

describe('An export-link holder (no secret)', () => {
  it('should not make the guard read and hash a body the link does not sign (x-amz-content-sha256 added to a presigned GET)', async () => {
    // s3-local.ts checkPayload reads the header whatever signed the request: up to 64 MiB per connection, any number of them.
    const response = await exchange(Buffer.from(`GET ${link.pathname}${link.search} HTTP/1.1\r\nhost: ${link.host}\r\nx-amz-content-sha256: ${'f'.repeat(64)}\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello`));
    expect(response.code).not.toBe('XAmzContentSHA256Mismatch');
  });

  it('should refuse the export link with a query parameter it does not sign (__proto__)', async () => {
    const response = await fetch(`${link.href}&__proto__=unsigned`);
    expect(response.status).toBe(403);
  });
});

describe('A correctly signed client, outside s3rver\'s folder', () => {
  it('should not write outside it with backslashes and a "#" in the path (url.parse turns \\ into /)', async () => {
    const response = await signed('PUT', '/tenant-exports/a\\..\\..\\..\\escaped#', {}, 'ESCAPED');
    expect({ status: response.status, outside: existsSync(join(root, 'data', 'escaped._S3rver_object')) }).toEqual({ status: 400, outside: false });
  });

  it('should not read a file outside it with backslashes and a "#" in the path', async () => {
    const response = await signed('GET', '/tenant-exports/a\\..\\..\\..\\..\\victim\\loot#');
    expect(response.body).not.toContain('outside file');
  });

  it('should not write a file outside it through uploadId and partNumber (UploadPart)', async () => {
    const response = await signed('PUT', `/tenant-exports/k?partNumber=planted&uploadId=${encodeURIComponent('../../../../victim')}`, {}, 'PLANTED');
    // NoSuchUpload (404): an upload id s3rver never made, as S3 answers it.
    expect({ status: response.status, code: response.code, planted: existsSync(join(victim, 'planted')) }).toEqual({ status: 404, code: 'NoSuchUpload', planted: false });
  });

  it('should not delete a folder outside it (UploadPart writes its "key" and "metadata", CompleteMultipartUpload removes the upload folder)', async () => {
    const uploadId = encodeURIComponent('../../../../victim');
    for (const [part, body] of [['key', 'k'], ['metadata', '{}'], ['1', 'x']]) await signed('PUT', `/tenant-exports/k?partNumber=${part}&uploadId=${uploadId}`, {}, body);
    const xml = '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>';
    await signed('POST', `/tenant-exports/k?uploadId=${uploadId}`, {}, xml, true);
    expect(existsSync(join(victim, 'sub', 'precious.txt'))).toBe(true);
  });

  it('should not delete a file outside it through a DeleteObjects key', async () => {
    const xml = '<Delete><Object><Key>../../../victim/loot</Key></Object></Delete>';
    await signed('POST', '/tenant-exports?delete=', { 'content-md5': createHash('md5').update(xml).digest('base64') }, xml, true);
    expect(existsSync(join(victim, 'loot._S3rver_object'))).toBe(true);
  });

  it('should not write outside it through a POST object form field "key"', async () => {
    const body = '--B\r\nContent-Disposition: form-data; name="key"\r\n\r\n../../../victim/posted\r\n--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\nPOSTED\r\n--B--\r\n';
    await signed('POST', '/tenant-exports', { 'content-type': 'multipart/form-data; boundary=B' }, body);
    expect(existsSync(join(victim, 'posted._S3rver_object'))).toBe(false);
  });

  it.each([
    ['as a query parameter (s3rver copies x-amz-* query parameters over the headers)', 'copied-q', { }, `?x-amz-copy-source=${encodeURIComponent('/tenant-exports/../../../victim/loot')}`],
    ['as a header with "?/.." after the "?" (the guard checks before the "?", s3rver reads it all)', 'copied-h', { 'x-amz-copy-source': '/tenant-exports/x?/../../../../victim/loot' }, ''],
  ] as Array<[string, string, Record<string, string>, string]>)('should not copy a file from outside it with x-amz-copy-source %s', async (_how, destination, headers, query) => {
    await signed('PUT', `/tenant-exports/${destination}${query}`, headers);
    const copied = await own.send(new GetObjectCommand({ Bucket: 'tenant-exports', Key: destination })).then((got) => got.Body?.transformToString(), () => undefined);
    expect(copied).toBeUndefined();
  });
});

describe('A correctly signed client, the server', () => {
  it('should keep answering after a PutObject whose key has a 300-character segment (S3 allows 1,024 bytes)', async () => {
    await own.send(new PutObjectCommand({ Bucket: 'tenant-documents', Key: 'k'.repeat(300), Body: 'x' })).catch(() => undefined);
    await expect(own.send(new ListBucketsCommand({}))).resolves.toBeDefined();
    expect(s3.process.exitCode).toBeNull();
    expect(readFileSync(join(victim, 'loot._S3rver_object'), 'utf8')).toBe('outside file');
  });
});
