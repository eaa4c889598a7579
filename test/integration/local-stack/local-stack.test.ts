/**
 * The local stack of `npm start`, run in this process (startLocalStack), as a user of `npm start` sees it: a
 * data folder made on first start, the demo tenants seeded, a banner whose URL and tokens work, one line per
 * request and per workflow outcome, the issuer's public keys served, the folder refused to a second stack, data
 * and signing keys kept across a restart, the data dropped by --reset and the key rotated without logging anybody out, and stop() closing the API and stopping the JVM and the local S3 server (whose buckets hold
 * the demo tenants' documents and vectors, kept under the data folder). DynamoDB Local is the stack's own
 * (a free port and a temporary folder), not the integration project's; every start here is stopped in afterAll.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { testPort } from '../../support/test-port';
import { hostname, tmpdir, userInfo } from 'node:os';
import { decodeProtectedHeader } from 'jose';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_FILE } from '../../../infra/local/data-dir-lock';
import { LocalStackError } from '../../../infra/local/dynamodb-local';
import { LocalStack, startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { processTable, refusesConnections } from '../../support/npm-start';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DocumentsSource } from '../../../functions/data-sources/documents-source';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
// Nothing here may import a module that reads configuration at import (functions/shared/config): the stack sets it.
import { LOCAL_DOCUMENTS_BUCKET, SIGNING_KEYS_FILE } from '../../../infra/local/local-settings';
import { localS3ClientConfig } from '../../../infra/local/s3-local';

/** The demo documents and vectors of a tenant, as the stack at `s3Endpoint` holds them. */
async function demoContent(s3Endpoint: string, tenantId: string) {
  const s3 = new S3Client(localS3ClientConfig(s3Endpoint));
  try {
    const documents = await new DocumentsSource({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET }).exportPage(tenantId, null, 100);
    const vectors = await new VectorsSource(new S3VectorStore({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET })).exportPage(tenantId, null, 100);
    return { documents: documents.records, vectors: vectors.records };
  } finally {
    s3.destroy();
  }
}

function s3Running(s3Endpoint: string): boolean {
  return processTable().some((entry) => entry.args.includes('s3rver') && entry.args.includes(` ${new URL(s3Endpoint).port} `));
}

const root = mkdtempSync(join(tmpdir(), 'local-stack-'));
/** Does not exist before the first start. */
const dataDir = join(root, 'data', 'local');
let dynamoPort: number;
let lines: string[] = [];
const errors: string[] = [];
const stacks: { stop(): Promise<void> }[] = [];

/**
 * Start a stack on this file's data folder. The DynamoDB port is the same for every start: the handlers read
 * their endpoint once per process, as `npm start` restarted with the same DYNAMODB_PORT would.
 */
async function start(reset = false): Promise<LocalStackInfo & { stop(): Promise<void> }> {
  lines = [];
  const stack = await startLocalStack({ apiPort: 0, dynamoPort, dataDir, reset, log: (line) => lines.push(line), logError: (line) => errors.push(line) });
  stacks.push(stack);
  return stack;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function jvmRunning(): boolean {
  return processTable().some((entry) => entry.args.includes('DynamoDBLocal.jar') && entry.args.includes(`-port ${dynamoPort}`));
}

/** The banner as printed, and the values a user copies from it. */
function banner(): { text: string; url: string; token: string; acmeToken: string } {
  const text = lines.find((line) => line.includes(' is up: ')) ?? '';
  const value = (pattern: RegExp) => pattern.exec(text)?.[1] as string;
  return { text, url: value(/is up: (\S+)/), token: value(/export TOKEN=(\S+)/), acmeToken: value(/export ACME_TOKEN=(\S+)/) };
}

async function get(url: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function post(url: string, token: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitForLine(pattern: RegExp, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = lines.find((candidate) => pattern.test(candidate));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`No line matching ${pattern} in:\n${lines.join('\n')}\n${errors.join('\n')}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  dynamoPort = await testPort('the test DynamoDB Local');
});

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('Function: startLocalStack', () => {
  let first: LocalStackInfo & { stop(): Promise<void> };

  it('should create the data folder, seed the demo tenants and print a banner whose URL and tokens work against the API', async () => {
    expect(existsSync(dataDir)).toBe(false);
    first = await start();

    expect(existsSync(join(dataDir, 'dynamodb'))).toBe(true);
    expect(statSync(join(dataDir, SIGNING_KEYS_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    const { text, url, token, acmeToken } = banner();
    expect(text).toContain(`DynamoDB Local   http://127.0.0.1:${dynamoPort}  table 'tenant-lifecycle', data in ${join(dataDir, 'dynamodb')} (demo tenants seeded)`);
    expect({ url, token, acmeToken }).toEqual({ url: first.url, token: first.tokens.operator, acmeToken: first.tokens.acme });
    expect(text).toContain(`S3 (s3rver)      ${first.s3Endpoint}  buckets 'tenant-documents' (documents, vectors), 'tenant-exports'`);
    // The demo tenants have documents and vectors (1,536 dimensions) in the local stores.
    const acme = await demoContent(first.s3Endpoint, 'acme-corp');
    expect(acme.documents.map((document) => document.key)).toEqual(['handbook/security.md', 'handbook/welcome.md', 'reports/2026-q3.json']);
    expect(acme.documents[1]).toMatchObject({ contentType: 'text/markdown; charset=utf-8', body: expect.stringContaining('Welcome to Acme Corp') });
    expect(acme.vectors.map((vector) => [vector.id, (vector.values as number[]).length])).toEqual([
      ['handbook/security.md#0', 1536],
      ['handbook/welcome.md#0', 1536],
      ['reports/2026-q3.json#0', 1536],
    ]);
    expect((await demoContent(first.s3Endpoint, 'techstart-inc')).documents[1]?.body).toContain('TechStart Inc');

    const tenants = await get(`${url}/tenants`, token);
    expect(tenants.status).toBe(200);
    expect((tenants.body.items as { tenantId: string }[]).map((tenant) => tenant.tenantId).sort()).toEqual(['acme-corp', 'enterprise-solutions', 'suspended-co', 'techstart-inc']);
    expect((await get(`${url}/tenants/acme-corp`, acmeToken)).status).toBe(200);
    expect((await get(`${url}/tenants/techstart-inc`, acmeToken)).status).toBe(403);
    // The caller of each line is the token's role and subject: the operator's `<os user>@<host>`, Acme's client `acme-corp-app@<host>`.
    expect(await waitForLine(/^GET \/tenants 200 /)).toMatch(new RegExp(`^GET /tenants 200 \\d+ms operator:${escapeRegExp(`${userInfo().username}@${hostname()}`)}$`));
    expect(await waitForLine(/^GET \/tenants\/techstart-inc /)).toMatch(new RegExp(`^GET /tenants/techstart-inc 403 \\d+ms tenant:${escapeRegExp(`acme-corp-app@${hostname()}`)}$`));
  }, 90_000);

  it("should serve the issuer's public keys, without a token: the JWKS (no private member) and the discovery document", async () => {
    const { url, token } = banner();
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((key) => key.kid)).toEqual([first.signingKeyId]);
    expect(decodeProtectedHeader(token).kid).toBe(first.signingKeyId);
    for (const key of jwks.keys) expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(await (await fetch(`${url}/.well-known/openid-configuration`)).json()).toMatchObject({ issuer: 'urn:tenant-lifecycle:local', jwks_uri: `${url}/.well-known/jwks.json` });
  });

  it('should run a plan change through the local workflow runner and print its outcome', async () => {
    const { url, token } = banner();
    const response = await post(`${url}/tenants/techstart-inc/plan`, token, { plan: 'starter' });
    const { operationId } = response.body as { operationId: string };
    expect(response.status).toBe(202);

    expect(await waitForLine(new RegExp(`^workflow plan-change ${operationId} `))).toMatch(new RegExp(`^workflow plan-change ${operationId} tenant=techstart-inc succeeded \\(\\d+ ms\\)$`));
    expect(((await get(`${url}/tenants/techstart-inc`, token)).body as { plan: string }).plan).toBe('starter');
  }, 45_000);

  it("should export a demo tenant through the API, print its progress per source, and hand out download URLs that work", async () => {
    const { url, acmeToken } = banner();
    // The tenant's own token may start its export (GDPR Art. 15) and read it.
    const response = await post(`${url}/tenants/acme-corp/exports`, acmeToken, {});
    const { exportId } = response.body as { exportId: string };
    expect(response.status).toBe(202);

    expect(await waitForLine(new RegExp(`^workflow export ${exportId} tenant=acme-corp documents 3/3$`))).toBeDefined();
    expect(await waitForLine(new RegExp(`^workflow export ${exportId} tenant=acme-corp vectors 3/3$`))).toBeDefined();
    // A line when each source is counted, and one per batch.
    expect(await waitForLine(new RegExp(`^workflow export ${exportId} tenant=acme-corp documents 0/3$`))).toBeDefined();
    expect(await waitForLine(new RegExp(`^workflow export ${exportId} tenant=acme-corp succeeded`))).toMatch(/succeeded \(\d+ ms\)$/);
    const done = await get(`${url}/exports/${exportId}`, acmeToken);
    expect(done.body).toMatchObject({ status: 'succeeded', tenantId: 'acme-corp' });
    const files = (done.body.download as { files: Array<{ key: string; url: string }> }).files;
    const manifest = (await (await fetch(files.find((file) => file.key === 'manifest.json')?.url as string)).json()) as { tenantId: string; sources: Array<{ name: string; exported: number }> };
    expect(manifest.tenantId).toBe('acme-corp');
    expect(manifest.sources.find((entry) => entry.name === 'documents')?.exported).toBe(3);
    const part = files.find((file) => file.key.startsWith('documents/'));
    expect((await fetch(part?.url as string)).status).toBe(200);
  }, 60_000);

  it('should print the rollback of a plan change with its cause', async () => {
    const { url, token, acmeToken } = banner();
    // A query holding its lease past a 1 s drain timeout: the upgrade rolls back with DrainTimeoutError.
    expect((await post(`${url}/tenants/acme-corp/leases`, acmeToken, { ttlSeconds: 60 })).status).toBe(201);
    const response = await post(`${url}/tenants/acme-corp/plan`, token, { plan: 'professional', drainTimeoutSeconds: 1 });
    const { operationId } = response.body as { operationId: string };
    expect(response.status).toBe(202);

    expect(await waitForLine(new RegExp(`^workflow plan-change ${operationId} `))).toMatch(
      new RegExp(`^workflow plan-change ${operationId} tenant=acme-corp rolled_back cause=DrainTimeoutError: 1 in-flight query still holds its lease`),
    );
  }, 45_000);

  it('should refuse a second stack on the same data folder with one line naming the folder, and leave the first serving', async () => {
    const second = startLocalStack({ apiPort: 0, dynamoPort: 0, dataDir, log: () => undefined });

    await expect(second).rejects.toThrow(LocalStackError);
    await expect(second).rejects.toThrow(new RegExp(`^the data folder ${dataDir} is in use by another npm start \\(pid ${process.pid}\\): [^\\n]*--data-dir`));
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
  });

  it("should refuse a port that is taken with one line naming the port and what it was for", async () => {
    const port = Number(new URL(first.url).port);
    await expect(startLocalStack({ apiPort: port, dynamoPort: 0, dataDir: join(root, 'other') })).rejects.toThrow(
      `Port ${port} for the API (set PORT or --port) is already in use: stop whatever holds it, or choose another port (see README).`,
    );
  });

  it('stop() should close the API, stop the JVM and give up the data folder', async () => {
    const { url, token } = banner();
    expect((await post(`${url}/tenants`, token, { tenantId: 'own-co', name: 'Own Co', email: 'admin@own.example', plan: 'free' })).status).toBe(201);
    const s3 = new S3Client(localS3ClientConfig(first.s3Endpoint));
    await s3.send(new PutObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'tenants/own-co/notes.txt', Body: 'kept' }));
    s3.destroy();
    expect(s3Running(first.s3Endpoint)).toBe(true);

    await first.stop();

    expect(await refusesConnections(Number(new URL(url).port))).toBe(true);
    expect(await refusesConnections(dynamoPort)).toBe(true);
    expect(jvmRunning()).toBe(false);
    expect(await refusesConnections(Number(new URL(first.s3Endpoint).port))).toBe(true);
    expect(s3Running(first.s3Endpoint)).toBe(false);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 30_000);

  it('should keep the data and the signing key across a restart, and start over with the demo tenants and a new key after --reset, old tokens still valid', async () => {
    const { token: firstToken } = banner();
    const firstKid = decodeProtectedHeader(firstToken).kid;
    const kept = await start();
    expect(kept.signingKeyId).toBe(firstKid);
    expect(banner().text).toContain('(kept from the last run; --reset to start over)');
    expect(kept.seeded).toBe(0);
    expect((await get(`${kept.url}/tenants/own-co`, firstToken)).status).toBe(200);
    // Objects are kept too (under <data>/s3), and the demo content is not written again over them.
    expect((await demoContent(kept.s3Endpoint, 'own-co')).documents).toEqual([expect.objectContaining({ key: 'notes.txt', body: 'kept' })]);
    expect(((await get(`${kept.url}/tenants/techstart-inc`, firstToken)).body as { plan: string }).plan).toBe('starter');
    await kept.stop();

    const reset = await start(true);
    expect(banner().text).toContain('(demo tenants seeded)');
    expect(reset.seeded).toBe(4);
    // --reset rotates: a new key signs, the old one is still published, so the first token still works (below).
    expect(reset.signingKeyId).not.toBe(firstKid);
    expect(decodeProtectedHeader(reset.tokens.operator).kid).toBe(reset.signingKeyId);
    const jwks = (await (await fetch(`${reset.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((key) => key.kid)).toEqual([firstKid, reset.signingKeyId]);
    expect((await get(`${reset.url}/tenants/own-co`, firstToken)).status).toBe(404);
    expect((await demoContent(reset.s3Endpoint, 'own-co')).documents).toEqual([]);
    expect((await demoContent(reset.s3Endpoint, 'acme-corp')).documents).toHaveLength(3);
    expect(((await get(`${reset.url}/tenants/techstart-inc`, firstToken)).body as { plan: string }).plan).toBe('free');
    await reset.stop();
    expect(jvmRunning()).toBe(false);
    expect(s3Running(reset.s3Endpoint)).toBe(false);
  }, 120_000);
});

describe('Class: LocalStack', () => {
  it('should stop what it has started when stop() comes during start(), and start() should reject', async () => {
    const stack = new LocalStack({ apiPort: 0, dynamoPort, dataDir, log: (line) => lines.push(line) });
    stacks.push(stack);
    lines = [];
    const starting = stack.start();
    const deadline = Date.now() + 60_000;
    while (!jvmRunning() && Date.now() < deadline) await sleep(50);

    await stack.stop();

    await expect(starting).rejects.toThrow('stopped while starting');
    expect(jvmRunning()).toBe(false);
    expect(await refusesConnections(dynamoPort)).toBe(true);
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
    expect(lines.some((line) => line.includes(' is up: '))).toBe(false);
  }, 90_000);
});
