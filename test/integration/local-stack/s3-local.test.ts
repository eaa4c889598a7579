/**
 * The local S3 server `npm start` and the integration tests run (s3rver as a child process we own): what a
 * user notices when starting and stopping it. Each test starts its own server on a free loopback port and
 * stops it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { deletePrefix } from '../../../functions/data-sources/s3-prefix';
import { withConcurrency } from '../../../bench/seeded';
import { LocalStackError } from '../../../infra/local/dynamodb-local';
import { localS3ClientConfig, startS3Local, type S3Local } from '../../../infra/local/s3-local';

const started: S3Local[] = [];
const directories: string[] = [];

async function start(options: Parameters<typeof startS3Local>[0]): Promise<S3Local> {
  const s3 = await startS3Local(options);
  started.push(s3);
  return s3;
}

function client(s3: S3Local): S3Client {
  return new S3Client({ ...localS3ClientConfig(s3.endpoint), maxAttempts: 1 });
}

function exited(s3: S3Local): boolean {
  return s3.process.exitCode !== null || s3.process.signalCode !== null;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((s3) => s3.stop()));
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

describe('Function: startS3Local', () => {
  it('should create the buckets asked for, keep objects in a given directory after stop, and serve them again on restart', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3-local-test-'));
    directories.push(directory);
    const first = await start({ directory, buckets: ['documents', 'exports'] });
    const s3 = client(first);
    try {
      const buckets = await s3.send(new ListBucketsCommand({}));
      expect(buckets.Buckets?.map((bucket) => bucket.Name).sort()).toEqual(['documents', 'exports']);
      await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: 'a.txt', Body: 'kept' }));
    } finally {
      s3.destroy();
    }
    await first.stop();
    expect(exited(first)).toBe(true);
    expect(existsSync(directory)).toBe(true);
    expect(readdirSync(directory).length).toBeGreaterThan(0);

    // Existing buckets are kept: the object is still there after a restart on the same directory.
    const second = await start({ directory, buckets: ['exports'] });
    const again = client(second);
    try {
      const object = await again.send(new GetObjectCommand({ Bucket: 'exports', Key: 'a.txt' }));
      expect(await object.Body?.transformToString()).toBe('kept');
    } finally {
      again.destroy();
    }
  });

  it('should remove the temporary directory it made on stop, stop the child, and accept a second stop', async () => {
    const s3 = await start({});
    // The child's command line names its object directory: the temporary one made for this server.
    const made = s3.process.spawnargs.find((arg) => arg.startsWith(join(tmpdir(), 's3-local-'))) as string;
    expect(made).toBeDefined();
    expect(existsSync(made)).toBe(true);

    await s3.stop();
    expect(exited(s3)).toBe(true);
    expect(existsSync(made)).toBe(false);
    await expect(s3.stop()).resolves.toBeUndefined();
    const probe = client(s3);
    try {
      await expect(probe.send(new ListBucketsCommand({}))).rejects.toThrow();
    } finally {
      probe.destroy();
    }
  });

  it('should refuse a port that is taken with a LocalStackError naming the port', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const { port } = holder.address() as { port: number };
    try {
      const attempt = startS3Local({ port });
      await expect(attempt).rejects.toBeInstanceOf(LocalStackError);
      await expect(attempt).rejects.toThrow(`Port ${port} for the local S3 server is already in use`);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('should fail with a LocalStackError carrying the server output when s3rver cannot start', async () => {
    const parent = mkdtempSync(join(tmpdir(), 's3-local-test-'));
    directories.push(parent);
    const file = join(parent, 'not-a-directory');
    writeFileSync(file, 'x');
    const attempt = startS3Local({ directory: join(file, 'objects'), buckets: ['documents'] });
    await expect(attempt).rejects.toBeInstanceOf(LocalStackError);
    await expect(attempt).rejects.toThrow(/The local S3 server exited with code 1: .+/);
  });

  it('should empty a prefix across pages and nested folders, keep its neighbour, and leave no object file on disk (its file store replaced in part)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 's3-local-test-'));
    directories.push(directory);
    const server = await start({ directory, buckets: ['documents'] });
    const s3 = client(server);
    try {
      // 1,100 keys: two pages of ListObjectsV2; a flat folder and a nested one, and a neighbour sharing the name's start.
      const keys = Array.from({ length: 1100 }, (_, i) => (i % 2 === 0 ? `tenants/acme/v-${String(i).padStart(4, '0')}.json` : `tenants/acme/0001/d-${String(i).padStart(4, '0')}.txt`));
      await withConcurrency(keys.length, 16, async (i) => {
        await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: keys[i], Body: `object ${i}` }));
      });
      await s3.send(new PutObjectCommand({ Bucket: 'documents', Key: 'tenants/acme-eu/kept.txt', Body: 'kept' }));

      expect(await deletePrefix(s3, 'documents', 'tenants/acme/')).toBe(1100);

      const left = await s3.send(new ListObjectsV2Command({ Bucket: 'documents', Prefix: 'tenants/' }));
      expect(left.Contents?.map((object) => object.Key)).toEqual(['tenants/acme-eu/kept.txt']);
      // The emptied folders stay (S3 has no folders; the listing yields files only): nothing is left in them.
      const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
      expect(walk(join(directory, 'documents', 'tenants', 'acme'))).toEqual([]);
    } finally {
      s3.destroy();
    }
  });
});
