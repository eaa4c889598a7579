/**
 * Verification of a written export against its manifest, re-reading what S3 stores (never what the writer
 * remembers): every source's exported count equals its expected count and the sum of its parts; every part
 * exists, and its size, SHA-256 and number of NDJSON lines equal the manifest's; no part file lies in the
 * export that the manifest does not list. Streams each object (memory: one chunk), parts one after another.
 */
import { createHash } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { ExportManifest } from './manifest';
import type { ExportPart } from './part-writer';

export interface VerificationResult {
  /** Parts checked against the stored bytes. */
  readonly parts: number;
  readonly records: number;
  readonly bytes: number;
  /** What does not match, each naming its source or part; empty when the export is whole. */
  readonly problems: readonly string[];
}

/** Check the export at `exportPrefix` against `manifest`. Throws only what S3 throws beyond a missing object. */
export async function verifyExport(s3: S3Client, bucket: string, exportPrefix: string, manifest: ExportManifest): Promise<VerificationResult> {
  const problems: string[] = [];
  let parts = 0;
  let records = 0;
  let bytes = 0;
  for (const source of manifest.sources) {
    const inParts = source.parts.reduce((sum, part) => sum + part.records, 0);
    if (source.exported !== source.expected) problems.push(`source '${source.name}' held ${source.expected} records but ${source.exported} were exported`);
    if (inParts !== source.exported) problems.push(`source '${source.name}' lists ${inParts} records in its parts but ${source.exported} exported`);
    for (const part of source.parts) {
      const problem = await checkPart(s3, bucket, exportPrefix, part);
      if (problem) problems.push(problem);
      parts += 1;
      records += part.records;
      bytes += part.bytes;
    }
  }
  const listed = new Set(manifest.sources.flatMap((source) => source.parts.map((part) => part.key)));
  for (const key of await storedPartKeys(s3, bucket, exportPrefix)) {
    if (!listed.has(key)) problems.push(`part ${key} is stored but not in the manifest`);
  }
  return { parts, records, bytes, problems };
}

/** A description of what is wrong with one stored part, or undefined when it matches the manifest. */
async function checkPart(s3: S3Client, bucket: string, exportPrefix: string, part: ExportPart): Promise<string | undefined> {
  let body: Readable;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${exportPrefix}/${part.key}` }));
    body = object.Body as Readable;
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return `part ${part.key} is missing`;
    throw error;
  }
  const hash = createHash('sha256');
  let size = 0;
  let lines = 0;
  const gunzip = createGunzip();
  gunzip.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
  });
  const decoded = new Promise<boolean>((resolve) => {
    gunzip.on('end', () => resolve(true));
    gunzip.on('error', () => resolve(false));
  });
  await pipeline(
    body,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        // A corrupt gzip stream is reported below, not thrown: the digest says what is wrong.
        if (!gunzip.writable || gunzip.write(chunk)) return callback();
        const go = () => {
          gunzip.off('drain', go).off('error', go);
          callback();
        };
        gunzip.on('drain', go).on('error', go);
      },
      final(callback) {
        if (gunzip.writable) gunzip.end();
        callback();
      },
    }),
  );
  const sha256 = hash.digest('hex');
  if (size !== part.bytes || sha256 !== part.sha256) return `part ${part.key} was altered (stored ${size} bytes, sha256 ${sha256}; the manifest says ${part.bytes} bytes, sha256 ${part.sha256})`;
  if (!(await decoded) || lines !== part.records) return `part ${part.key} holds ${lines} records; the manifest says ${part.records}`;
  return undefined;
}

/** Keys (relative to the export) of the part files stored under `exportPrefix`. */
async function storedPartKeys(s3: S3Client, bucket: string, exportPrefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${exportPrefix}/`, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = object.Key?.slice(exportPrefix.length + 1);
      if (key && /\/part-\d+\.ndjson\.gz$/.test(key)) keys.push(key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
