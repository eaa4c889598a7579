/**
 * The local S3 server's guard (infra/local/s3-local.ts, S3_GUARD) against what a review found in its first version
 * (issue 13, F1): a lower-case algorithm skipped the signature check, `..` in a bucket or key reached folders outside
 * the server's, the signed payload hash and parts of a presigned URL were not compared. Every case failed then.
 *
 * Attacker model: someone holding only a presigned download link (what GET /exports/{id} gives a tenant token):
 * its X-Amz-Credential shows the S3 server's key id; the secret is never shown. And requests signed with the secret
 * that try what the product's clients never send.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { localS3ClientConfig, startS3Local, type S3Local } from '../../../infra/local/s3-local';
import { newLocalCredentials, type LocalCredentials } from '../../../infra/local/loopback-env';

let s3: S3Local;
let key: LocalCredentials;
let own: S3Client;
let root: string;
let link: URL;

beforeAll(async () => {
  key = newLocalCredentials();
  root = mkdtempSync(join(tmpdir(), 's3-guard-holes-'));
  s3 = await startS3Local({ directory: join(root, 'data', 's3'), buckets: ['tenant-documents', 'tenant-exports'], credentials: key });
  own = new S3Client({ ...localS3ClientConfig(s3.endpoint, key), maxAttempts: 1 });
  await own.send(new PutObjectCommand({ Bucket: 'tenant-documents', Key: 'tenants/globex/secret.md', Body: 'globex secret' }));
  await own.send(new PutObjectCommand({ Bucket: 'tenant-exports', Key: 'exports/acme-corp/op_1/manifest.json', Body: '{"tenantId":"acme-corp"}' }));
  link = new URL(await getSignedUrl(own, new GetObjectCommand({ Bucket: 'tenant-exports', Key: 'exports/acme-corp/op_1/manifest.json' }), { expiresIn: 900 }));
}, 60_000);

afterAll(async () => {
  own?.destroy();
  await s3?.stop();
  rmSync(root, { recursive: true, force: true });
});

const linkKeyId = () => (link.searchParams.get('X-Amz-Credential') as string).split('/')[0] as string;

/** Headers of a request "signed" with the link's key id alone: any signature, algorithm name in lower case. */
function keyIdOnly(algorithm = 'aws4-hmac-sha256'): Record<string, string> {
  const now = new Date().toISOString().replace(/[-:]|\.\d+/g, '');
  return {
    authorization: `${algorithm} Credential=${linkKeyId()}/${now.slice(0, 8)}/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0`,
    'x-amz-date': now,
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
  };
}

async function body(key: string): Promise<string> {
  return (await own.send(new GetObjectCommand({ Bucket: 'tenant-documents', Key: key }))).Body!.transformToString();
}

describe('A request signed with the key id of an export link alone (no secret)', () => {
  it('should be refused with the algorithm in upper case', async () => {
    const response = await fetch(`${s3.endpoint}/tenant-documents/tenants/globex/secret.md`, { headers: keyIdOnly('AWS4-HMAC-SHA256') });
    expect(response.status).toBe(403);
  });

  it.each(['aws4-hmac-sha256', 'Aws4-Hmac-Sha256'])('should be refused with the algorithm written %s (s3rver upper-cases it, the guard does not)', async (algorithm) => {
    const list = await fetch(`${s3.endpoint}/tenant-documents?list-type=2`, { headers: keyIdOnly(algorithm) });
    const read = await fetch(`${s3.endpoint}/tenant-documents/tenants/globex/secret.md`, { headers: keyIdOnly(algorithm) });
    const write = await fetch(`${s3.endpoint}/tenant-documents/tenants/globex/secret.md`, { method: 'PUT', headers: keyIdOnly(algorithm), body: 'forged' });
    const after = await body('tenants/globex/secret.md');
    await own.send(new PutObjectCommand({ Bucket: 'tenant-documents', Key: 'tenants/globex/secret.md', Body: 'globex secret' }));
    expect({ list: list.status, read: read.status, write: write.status, after }).toEqual({ list: 403, read: 403, write: 403, after: 'globex secret' });
  });

  it.each([
    ['AWS Signature Version 2 (Authorization: AWS id:signature)', (): Record<string, string> => ({ authorization: `AWS ${linkKeyId()}:c2lnbmF0dXJl`, date: new Date().toUTCString() })],
    ['another algorithm (AWS4-HMAC-SHA512)', (): Record<string, string> => keyIdOnly('AWS4-HMAC-SHA512')],
    ['a Bearer token', (): Record<string, string> => ({ authorization: 'Bearer eyJ' })],
  ] as Array<[string, () => Record<string, string>]>)('should refuse %s (403 AccessDenied)', async (_kind, headers) => {
    const read = await fetch(`${s3.endpoint}/tenant-documents/tenants/globex/secret.md`, { headers: headers() });
    expect(read.status).toBe(403);
    expect(await read.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('should refuse a presigned query with the algorithm in another case, a V2 query, or a header and a query together', async () => {
    const lower = new URL(link);
    lower.searchParams.set('X-Amz-Algorithm', 'aws4-hmac-sha256');
    const v2 = new URL(`${s3.endpoint}/tenant-documents/tenants/globex/secret.md?AWSAccessKeyId=${linkKeyId()}&Expires=9999999999&Signature=c2ln`);
    const both = await fetch(link, { headers: keyIdOnly('AWS4-HMAC-SHA256') });
    for (const response of [await fetch(lower), await fetch(v2), both]) expect(response.status).toBe(403);
  });

  it('should not delete a folder outside the S3 data folder (a "bucket" named ../../victim)', async () => {
    const victim = join(root, 'victim');
    mkdirSync(join(victim, 'sub'), { recursive: true });
    writeFileSync(join(victim, 'sub', 'precious.txt'), 'precious');
    // <root>/data/s3/../../victim = <root>/victim; s3rver removes a "bucket" with no objects recursively.
    const response = await fetch(`${s3.endpoint}/..%2F..%2Fvictim`, { method: 'DELETE', headers: keyIdOnly() });
    // Refused for its path before its signature is even read.
    expect({ status: response.status, victimLeft: existsSync(join(victim, 'sub', 'precious.txt')) }).toEqual({ status: 400, victimLeft: true });
  });
});

describe('Requests signed with the secret (the guard verifies the signature; what it lets through)', () => {
  const signer = () => new SignatureV4({ credentials: key, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });

  it('should refuse a key or bucket with dot segments that leave the bucket (path traversal in s3rver\'s file store)', async () => {
    const path = '/tenant-exports/..%2F..%2F..%2Foutside';
    const port = s3.port;
    const signed = await signer().sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port, path, query: {}, headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const response = await fetch(`${s3.endpoint}${path}`, { method: 'PUT', headers: signed.headers as Record<string, string>, body: 'x' });
    expect({ status: response.status, written: existsSync(join(root, 'outside._S3rver_object')) }).toEqual({ status: 400, written: false });
  });

  /** A request signed with the secret, its path sent as written (fetch would resolve `.` and `..` segments first). */
  const signedFetch = async (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text(): Promise<string> }> => {
    const port = s3.port;
    const signed = await signer().sign({ method, protocol: 'http:', hostname: '127.0.0.1', port, path, query: {}, headers: { host: `127.0.0.1:${port}`, ...headers } });
    return new Promise((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port, method, path, headers: signed.headers as Record<string, string> }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve({ status: response.statusCode as number, text: async () => Buffer.concat(chunks).toString() }));
      });
      request.on('error', reject);
      request.end(body);
    });
  };

  it.each(['/tenant-exports/a/./b', '/tenant-exports/a/%2E%2E/b', '/..', '/Tenant-Exports/x', '/tenant-exports/a%00b'])('should refuse the path %s (400) and store nothing', async (path) => {
    const response = await signedFetch('PUT', path, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, 'x');
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/<Code>(InvalidURI|InvalidBucketName)<\/Code>/);
  });

  it('should refuse a copy whose source leaves the bucket (x-amz-copy-source with ..)', async () => {
    const response = await signedFetch('PUT', '/tenant-exports/copied', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-copy-source': '/tenant-exports/..%2F..%2Fdata/x' });
    expect(response.status).toBe(400);
  });

  it('should refuse a streaming (aws-chunked) upload, whose chunk signatures it would not check, and store nothing', async () => {
    const response = await signedFetch('PUT', '/tenant-exports/streamed.txt', { 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': '1' }, '1;chunk-signature=00\r\nx\r\n0;chunk-signature=00\r\n\r\n');
    expect(response.status).toBe(403);
    await expect(own.send(new GetObjectCommand({ Bucket: 'tenant-exports', Key: 'streamed.txt' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('should store the body whose SHA-256 was signed', async () => {
    const response = await signedFetch('PUT', '/tenant-exports/hashed.txt', { 'x-amz-content-sha256': createHash('sha256').update('exact bytes').digest('hex') }, 'exact bytes');
    expect(response.status).toBe(200);
    expect(await (await own.send(new GetObjectCommand({ Bucket: 'tenant-exports', Key: 'hashed.txt' }))).Body?.transformToString()).toBe('exact bytes');
  });

  it('should refuse a body other than the one whose SHA-256 was signed (x-amz-content-sha256)', async () => {
    const port = s3.port;
    const path = '/tenant-exports/exports/acme-corp/op_1/swap.json';
    const signed = await signer().sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port, path, query: {},
      headers: { host: `127.0.0.1:${port}`, 'content-length': '4', 'x-amz-content-sha256': createHash('sha256').update('AAAA').digest('hex') } });
    const headers = { ...(signed.headers as Record<string, string>) };
    delete headers['content-length']; // fetch sets it (4 again)
    const response = await fetch(`${s3.endpoint}${path}`, { method: 'PUT', headers, body: 'BBBB' });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    await expect(own.send(new GetObjectCommand({ Bucket: 'tenant-exports', Key: 'exports/acme-corp/op_1/swap.json' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it.each([
    ['the date in the credential scope', (url: URL) => { const parts = (url.searchParams.get('X-Amz-Credential') as string).split('/'); parts[1] = '19990101'; url.searchParams.set('X-Amz-Credential', parts.join('/')); }],
    ['X-Amz-SignedHeaders (a header that is not sent)', (url: URL) => { url.searchParams.set('X-Amz-SignedHeaders', 'host;x-not-sent'); }],
    ['X-Amz-Expires written 9e2', (url: URL) => { url.searchParams.set('X-Amz-Expires', '9e2'); }],
    ['X-Amz-Expires written 0900', (url: URL) => { url.searchParams.set('X-Amz-Expires', '0900'); }],
    ['X-Amz-Expires written 900.0', (url: URL) => { url.searchParams.set('X-Amz-Expires', '900.0'); }],
    ['X-Amz-Signature given twice', (url: URL) => { url.searchParams.append('X-Amz-Signature', url.searchParams.get('X-Amz-Signature') as string); }],
  ] as Array<[string, (url: URL) => void]>)('should refuse the export link with %s changed (403)', async (_change, change) => {
    const changed = new URL(link);
    change(changed);
    expect((await fetch(changed)).status).toBe(403);
    expect((await fetch(link)).status).toBe(200);
  });
});
