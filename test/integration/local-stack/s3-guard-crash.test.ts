/**
 * The local S3 server keeps running and keeps its buckets apart whatever a client holding its secret sends (issue
 * 13, F1; from a third review, every case failed on 04535b5). s3rver stores key `k` as the file `k._S3rver_object`,
 * keeps multipart uploads in `._S3rver_uploads/<uploadId>/<partNumber>` and a bucket's CORS configuration in
 * `._S3rver_cors.xml`: a key naming those as folders made s3rver open a folder as a file (EISDIR, an error event
 * nothing handled: the child exited) or answer 500 for the whole bucket; CompleteMultipartUpload naming a part never
 * uploaded stopped it too (ENOENT); a DeleteObjects key with '..' deleted another bucket's object and folder.
 */
import { signedRaw } from '../../support/s3-raw';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { localS3ClientConfig, startS3Local, type S3Local } from '../../../infra/local/s3-local';
import { newLocalCredentials, type LocalCredentials } from '../../../infra/local/loopback-env';

let s3: S3Local;
let key: LocalCredentials;
let root: string;

beforeEach(async () => {
  key = newLocalCredentials();
  root = mkdtempSync(join(tmpdir(), 's3-guard-review4-'));
  s3 = await startS3Local({ directory: join(root, 's3'), buckets: ['tenant-documents', 'tenant-exports'], credentials: key });
}, 60_000);

afterEach(async () => {
  await s3?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A PUT correctly signed with the secret (its body's SHA-256 signed); the status, 0 when the connection died. */
const put = async (target: string, body: string): Promise<number> => (await signedRaw(s3.port, key, 'PUT', target, { body, hashBody: true })).status;

async function stillRunning(): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  return s3.process.exitCode === null && s3.process.signalCode === null;
}

test('a key naming another key\'s object file as a folder is refused, and the server keeps running', async () => {
  expect(await put('/tenant-documents/x._S3rver_object/y', 'a')).toBe(400);
  expect(await put('/tenant-documents/x', 'b')).toBe(200);
  expect(await stillRunning()).toBe(true);
}, 30_000);

test('a key inside s3rver\'s multipart folder is refused, and the server keeps running', async () => {
  const uploadId = 'a'.repeat(32);
  expect(await put(`/tenant-documents/._S3rver_uploads/${uploadId}/1/z`, 'a')).toBe(400);
  const status = await put(`/tenant-documents/q?partNumber=1&uploadId=${uploadId}`, 'b');
  expect(await stillRunning()).toBe(true);
  expect(status).toBeGreaterThanOrEqual(400);
}, 30_000);

test('a key naming the bucket\'s CORS file as a folder leaves the bucket answering', async () => {
  const client = new S3Client({ ...localS3ClientConfig(s3.endpoint, key), maxAttempts: 1 });
  try {
    await client.send(new PutObjectCommand({ Bucket: 'tenant-documents', Key: 'kept.txt', Body: 'kept' }));
    await client.send(new PutObjectCommand({ Bucket: 'tenant-documents', Key: '._S3rver_cors.xml/z', Body: 'x' })).catch(() => undefined);
    const got = await client.send(new GetObjectCommand({ Bucket: 'tenant-documents', Key: 'kept.txt' }));
    expect(await got.Body?.transformToString()).toBe('kept');
  } finally {
    client.destroy();
  }
}, 30_000);

test('a DeleteObjects key does not leave its bucket', async () => {
  const client = new S3Client({ ...localS3ClientConfig(s3.endpoint, key), maxAttempts: 1 });
  try {
    await client.send(new PutObjectCommand({ Bucket: 'tenant-exports', Key: 'kept.txt', Body: 'kept' }));
    // Sent to tenant-documents; on 04535b5 it deletes tenant-exports/kept.txt, then the emptied tenant-exports folder (NoSuchBucket).
    await client.send(new DeleteObjectsCommand({ Bucket: 'tenant-documents', Delete: { Objects: [{ Key: '../tenant-exports/kept.txt' }] } })).catch(() => undefined);
    await expect(client.send(new HeadObjectCommand({ Bucket: 'tenant-exports', Key: 'kept.txt' }))).resolves.toBeDefined();
  } finally {
    client.destroy();
  }
}, 30_000);

test('CompleteMultipartUpload naming a part never uploaded does not stop the server', async () => {
  const client = new S3Client({ ...localS3ClientConfig(s3.endpoint, key), maxAttempts: 1 });
  try {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'tenant-documents', Key: 'big.bin' }));
    await expect(client.send(new CompleteMultipartUploadCommand({ Bucket: 'tenant-documents', Key: 'big.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 7, ETag: '"0123"' }] } }))).rejects.toMatchObject({ name: 'InvalidPart' });
    expect(await stillRunning()).toBe(true);
  } finally {
    client.destroy();
  }
}, 30_000);
