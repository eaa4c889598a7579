/**
 * A local S3-compatible server (s3rver 3.7.1, from npm) as a child process we own: started on 127.0.0.1 on
 * a free port, waited for, and stopped when we stop or die (its stdin is a pipe only we hold: end-of-file
 * makes it exit, see S3_MAIN).
 *
 * Two traps measured here (see TOOLCHAIN.md): s3rver needs `--openssl-legacy-provider` on Node 17+, or
 * ListObjectsV2 pagination answers 500 (hence a child process, not in-process); and clients must send
 * checksums only when required (`localS3ClientConfig`), or streamed bodies are stored with their
 * aws-chunked framing. s3rver checks neither SigV4 signatures (only presigned expiry and the access key
 * `S3RVER`) nor lifecycle configuration: expiry is enforced by the local adapter, and the AWS bucket's
 * lifecycle rules are tested in CDK assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { ownedChild, reservePort, waitForChild } from './dynamodb-local';

export interface S3Local {
  /** `http://127.0.0.1:<port>`: give it to S3 clients with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Stop the server and resolve once it has exited; a temporary directory it made is removed. */
  stop(): Promise<void>;
}

export interface S3LocalOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Directory for the objects; a fresh temporary directory (removed on stop) when omitted. */
  readonly directory?: string;
  /** Buckets to create at start (existing ones are kept). */
  readonly buckets?: readonly string[];
}

/** The credentials s3rver accepts (it checks only the access key of presigned URLs). */
export const S3_LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** Settings every S3 client talking to s3rver needs (path-style URLs; checksums only when required). */
export function localS3ClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3_LOCAL_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  } as const;
}

// Runs inside the child: start s3rver, print the ready line, exit when our stdin reaches end-of-file.
const S3_MAIN = `
const S3rver = require('s3rver');
const [port, directory, buckets] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true,
  configureBuckets: JSON.parse(buckets).map((name) => ({ name, configs: [] })) });
server.run().then(() => process.stdout.write('ready\\n'), (error) => { console.error(error.message); process.exit(1); });
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
process.on('SIGINT', () => undefined); // a terminal's Ctrl-C reaches only the parent, which stops us in order
`;

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const client = new S3Client({ ...localS3ClientConfig(endpoint), maxAttempts: 1 });
  try {
    await waitForChild('The local S3 server', endpoint, child, output, () => client.send(new ListBucketsCommand({})), 30_000, 50);
  } finally {
    client.destroy();
  }
}

/** Start s3rver on 127.0.0.1 and resolve once it answers. Throws LocalStackError when it cannot start. */
export async function startS3Local(options: S3LocalOptions = {}): Promise<S3Local> {
  const port = await reservePort(options.port ?? 0, 'the local S3 server');
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 's3-local-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3_MAIN, String(port), directory, JSON.stringify(options.buckets ?? [])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const owned = ownedChild(child);
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await owned.stop();
    if (temporary) rmSync(directory, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(endpoint, child, owned.output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, process: child, stop };
}
