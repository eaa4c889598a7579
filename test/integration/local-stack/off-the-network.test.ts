/**
 * The local stack keeps off the network (issue 13, section 1). The security review's demonstrations, repeated
 * against a started stack (the demo tenants seeded): from this machine's LAN address and from loopback with
 * another access key, an UpdateItem that sets the suspended tenant to `active` on `enterprise` and a Scan of every
 * tenant both fail, and the tenant is unchanged when read with the stack's own key; a request without a signature
 * gets nothing either. The API and the S3 server refuse connections from the LAN address and refuse (421) a
 * request whose Host is not a loopback name (DNS rebinding), changing nothing, while a normal request works. The
 * stack starts on a data folder made as a stack from before made it (DynamoDB Local with `-sharedDb`, written with
 * the key every install shared): its data is kept, readable with the new key only. One stack for the whole file.
 */
import { spawn } from 'node:child_process';
import { testPort } from '../../support/test-port';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand, ResourceNotFoundException, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { dynamoDbLocalCommand, ownedChild, waitForChild } from '../../../infra/local/dynamodb-local';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { createTableInput } from '../../../functions/tenants/tenant-table';
import { LOCAL_AWS_CREDENTIALS_FILE, LOCAL_DOCUMENTS_BUCKET, LOCAL_EXPORTS_BUCKET, LOCAL_TABLE_NAME, localAwsCredentials } from '../../../infra/local/local-settings';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
// Nothing here may import a module that reads configuration at import (functions/shared/config): the stack sets it.

/** A non-loopback IPv4 address of this machine (its LAN address), or undefined when it has none. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
}

const LAN = lanAddress();
// Said once, so a run on a machine without one shows why those checks did not run.
if (!LAN) process.stderr.write('off-the-network.test.ts: this machine has no non-loopback IPv4 address; the checks from the LAN address are skipped.\n');
const fromLan = LAN ? it : it.skip;

// The suite's own settings, read before the stack of this file replaces them in this process.
const suite = { endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB as string, accessKeyId: process.env.AWS_ACCESS_KEY_ID, region: process.env.AWS_REGION as string, table: process.env.TABLE_NAME as string };

const root = mkdtempSync(join(tmpdir(), 'off-the-network-'));
const dataDir = join(root, 'data');
const databaseDir = join(dataDir, 'dynamodb');
let stack: LocalStackInfo & { stop(): Promise<void> };
let token: string;
/** What the old database held besides the table: an item no demo seed writes. */
const OLD_ITEM = { pk: { S: 'IDEMPOTENCY#old-install' }, sk: { S: 'API#made-before-the-key' } };
let filesBefore: string[] = [];
const lines: string[] = [];

const SUSPENDED = { pk: { S: 'TENANT#suspended-co' }, sk: { S: 'TENANT' } };
/** The review's UpdateItem: the suspended tenant made active on enterprise, no audit entry. */
const takeOver = (TableName: string) =>
  new UpdateItemCommand({
    TableName,
    Key: SUSPENDED,
    UpdateExpression: 'SET #state = :active, #plan = :enterprise',
    ExpressionAttributeNames: { '#state': 'state', '#plan': 'plan' },
    ExpressionAttributeValues: { ':active': { S: 'active' }, ':enterprise': { S: 'enterprise' } },
  });

function dynamo(endpoint: string, accessKeyId: string, region = 'us-east-1'): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey: 'anything' }, maxAttempts: 1 });
}

/** The stack's own client: the key of its data folder. */
function ownClient(): DynamoDBClient {
  const { accessKeyId, secretAccessKey, region } = localAwsCredentials(dataDir);
  return new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
}

async function suspendedTenant(): Promise<Record<string, unknown>> {
  const client = ownClient();
  try {
    const { Item } = await client.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: SUSPENDED }));
    return { state: Item?.state?.S, plan: Item?.plan?.S, version: Item?.version?.N };
  } finally {
    client.destroy();
  }
}

/** A raw HTTP request (any Host header, any address): status and body, or the connection error's code. */
function raw(options: { host: string; port: number; method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: options.host, port: options.port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, setHost: !options.headers?.host, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    request.end(options.body);
  });
}

/** DynamoDB's JSON protocol by hand: `authorization` absent (unsigned) or forged. */
function dynamoRaw(host: string, port: number, target: string, body: object, headers: Record<string, string> = {}) {
  return raw({ host, port, method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${target}`, ...headers }, body: JSON.stringify(body) });
}

const FORGED = 'AWS4-HMAC-SHA256 Credential=ATTACKER/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0000';
const TAKE_OVER_BODY = { TableName: LOCAL_TABLE_NAME, Key: SUSPENDED, UpdateExpression: 'SET #s = :a', ExpressionAttributeNames: { '#s': 'state' }, ExpressionAttributeValues: { ':a': { S: 'active' } } };

/** The data folder as a stack from before left it: DynamoDB Local with -sharedDb, written with the key S3RVER. */
async function oldInstall(): Promise<void> {
  mkdirSync(databaseDir, { recursive: true });
  const port = await testPort('the old DynamoDB Local');
  const [java, ...args] = dynamoDbLocalCommand(port, databaseDir);
  const child = spawn(java as string, [...args, '-sharedDb'], { cwd: databaseDir, stdio: ['pipe', 'pipe', 'pipe'] });
  const owned = ownedChild(child, 500);
  const endpoint = `http://127.0.0.1:${port}`;
  const old = dynamo(endpoint, 'S3RVER');
  try {
    await waitForChild('the old DynamoDB Local', endpoint, child, owned.output, () => old.send(new ListTablesCommand({})), 60_000, 100);
    await old.send(new CreateTableCommand(createTableInput(LOCAL_TABLE_NAME)));
    await old.send(new PutItemCommand({ TableName: LOCAL_TABLE_NAME, Item: OLD_ITEM }));
  } finally {
    old.destroy();
    child.kill('SIGTERM');
    await owned.stop();
  }
  filesBefore = readdirSync(databaseDir);
}

beforeAll(async () => {
  await oldInstall();
  stack = await startLocalStack({ apiPort: 0, dynamoPort: 0, dataDir, log: (line) => lines.push(line), logError: () => undefined });
  token = stack.tokens.operator;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('DynamoDB Local of a started stack', () => {
  it('should hold the seeded suspended tenant, read with the data folder key', async () => {
    expect(await suspendedTenant()).toEqual({ state: 'suspended', plan: 'starter', version: expect.any(String) });
  });

  fromLan('should give nothing to a client on the LAN address: not the UpdateItem that activates the suspended tenant, not a Scan, not unsigned requests', async () => {
    const before = await suspendedTenant();
    const port = Number(new URL(stack.dynamoEndpoint).port);
    const outsider = dynamo(`http://${LAN}:${port}`, 'ATTACKER');
    try {
      // Refused at the socket (bound to loopback), or at worst a database of its own without the table. (Under jest
      // the SDK wraps a socket error from node's realm: "AWS SDK error wrapper for Error: connect ECONNREFUSED ...".)
      const refused = (error: Error) => (error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || /\bconnect ECONNREFUSED\b/.test(error.message);
      const noData = (error: Error) => (refused(error) || error instanceof ResourceNotFoundException ? 'no data' : `${error.name}: ${error.message}`);
      await expect(outsider.send(takeOver(LOCAL_TABLE_NAME)).then(() => 'changed', noData)).resolves.toBe('no data');
      await expect(outsider.send(new ScanCommand({ TableName: LOCAL_TABLE_NAME })).then((scan) => scan.Items, noData)).resolves.toBe('no data');
    } finally {
      outsider.destroy();
    }
    for (const headers of [{}, { authorization: FORGED }] as Record<string, string>[]) {
      const scan = await dynamoRaw(LAN as string, port, 'Scan', { TableName: LOCAL_TABLE_NAME }, headers);
      const update = await dynamoRaw(LAN as string, port, 'UpdateItem', TAKE_OVER_BODY, headers);
      for (const answer of [scan, update]) {
        if (answer.error) expect(answer.error).toBe('ECONNREFUSED');
        else expect(answer.body).not.toContain('suspended-co');
      }
    }
    expect(await suspendedTenant()).toEqual(before);
  });

  it('should give nothing to a client on loopback with another access key (the review\'s UpdateItem and Scan), nor to a request without a signature', async () => {
    const before = await suspendedTenant();
    const port = Number(new URL(stack.dynamoEndpoint).port);
    // Other keys, among them the ones every install shared before: S3RVER (the stack's) and `local` (the suite's).
    for (const accessKeyId of ['ATTACKER', 'S3RVER', 'local']) {
      const other = dynamo(stack.dynamoEndpoint, accessKeyId);
      try {
        await expect(other.send(takeOver(LOCAL_TABLE_NAME))).rejects.toBeInstanceOf(ResourceNotFoundException);
        await expect(other.send(new ScanCommand({ TableName: LOCAL_TABLE_NAME }))).rejects.toBeInstanceOf(ResourceNotFoundException);
        await expect(other.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
      } finally {
        other.destroy();
      }
    }
    // Unsigned: DynamoDB Local refuses it (MissingAuthenticationToken). Forged (any key, any signature: DynamoDB
    // Local checks no signature) with a rebinding page's Host: a database of its own, without the table.
    const unsigned = await dynamoRaw('127.0.0.1', port, 'UpdateItem', TAKE_OVER_BODY);
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).toContain('MissingAuthenticationToken');
    const forged = await dynamoRaw('127.0.0.1', port, 'Scan', { TableName: LOCAL_TABLE_NAME }, { authorization: FORGED, host: `attacker.example:${port}` });
    expect(forged.status).toBe(400);
    expect(forged.body).toContain('ResourceNotFoundException');
    expect(forged.body).not.toContain('suspended-co');
    expect(await suspendedTenant()).toEqual(before);
  });

  it('should keep the key in the data folder, readable by its owner only, and print where it is with a command that uses it', () => {
    const { accessKeyId, secretAccessKey, region } = localAwsCredentials(dataDir);
    expect(accessKeyId).toMatch(/^[A-Z0-9]{20,}$/);
    expect(statSync(join(dataDir, LOCAL_AWS_CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
    // And the folders of the tenants' data (database, objects, event checkpoints) are its owner's alone.
    for (const folder of ['dynamodb', 's3', 'events']) expect(statSync(join(dataDir, folder)).mode & 0o777).toBe(0o700);
    const banner = lines.join('\n');
    expect(banner).toContain(join(dataDir, LOCAL_AWS_CREDENTIALS_FILE));
    expect(banner).toContain(`AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_DEFAULT_REGION=${region} aws dynamodb scan --table-name ${LOCAL_TABLE_NAME} --endpoint-url ${stack.dynamoEndpoint}`);
  });
});

describe('The HTTP servers of a started stack (API, JWKS, S3)', () => {
  const apiPort = () => Number(new URL(stack.url).port);
  const s3Port = () => Number(new URL(stack.s3Endpoint).port);

  fromLan('should refuse connections on the LAN address (DynamoDB Local too, where it is bound to 127.0.0.1)', async () => {
    const dynamoPort = Number(new URL(stack.dynamoEndpoint).port);
    for (const port of [apiPort(), s3Port(), ...(stack.dynamoListensOn === '127.0.0.1' ? [dynamoPort] : [])]) expect(await raw({ host: LAN as string, port, path: '/health' })).toEqual({ error: 'ECONNREFUSED' });
  });

  it.each(['attacker.example', '127.0.0.1.attacker.example', 'localhost.attacker.example:3000', 'app.localhost'])(
    'should refuse an API request whose Host is %s (421, JSON error) and change nothing',
    async (host) => {
      const before = await suspendedTenant();
      const resume = await raw({ host: '127.0.0.1', port: apiPort(), method: 'POST', path: '/tenants/suspended-co/resume', headers: { host, authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"reason":"rebinding"}' });
      expect(resume.status).toBe(421);
      expect(JSON.parse(resume.body as string)).toEqual({ error: { code: 'MISDIRECTED_REQUEST', message: expect.stringContaining('127.0.0.1') } });
      const jwks = await raw({ host: '127.0.0.1', port: apiPort(), path: '/.well-known/jwks.json', headers: { host } });
      expect(jwks.status).toBe(421);
      expect(await suspendedTenant()).toEqual(before);
    },
  );

  it.each(['127.0.0.1', 'localhost', '[::1]', 'LOCALHOST'])('should answer an API request whose Host is %s (with the port)', async (name) => {
    const health = await raw({ host: '127.0.0.1', port: apiPort(), path: '/health', headers: { host: `${name}:${apiPort()}` } });
    expect(health.status).toBe(200);
  });

  it.each(['attacker.example', '127.0.0.1.attacker.example'])('should refuse an S3 request whose Host is %s (421) and store nothing', async (host) => {
    const put = await raw({ host: '127.0.0.1', port: s3Port(), method: 'PUT', path: `/${LOCAL_DOCUMENTS_BUCKET}/rebinding.txt`, headers: { host: `${host}:${s3Port()}` }, body: 'planted' });
    expect(put.status).toBe(421);
    expect(put.body).toContain('MisdirectedRequest');
    const s3 = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint), maxAttempts: 1 });
    try {
      await expect(s3.send(new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'rebinding.txt' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      s3.destroy();
    }
  });

  it('should refuse S3 requests without the stack\'s key (unsigned, or signed with the key every install shared) and serve its own clients and presigned URLs', async () => {
    const unsigned = await raw({ host: '127.0.0.1', port: s3Port(), method: 'PUT', path: `/${LOCAL_DOCUMENTS_BUCKET}/unsigned.txt`, body: 'planted' });
    expect(unsigned.status).toBe(403);
    const shared = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }), maxAttempts: 1 });
    const own = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint), maxAttempts: 1 });
    try {
      await expect(shared.send(new PutObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'shared.txt', Body: 'planted' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
      await own.send(new PutObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'own.txt', Body: 'ours' }));
      const url = await getSignedUrl(own, new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'own.txt' }), { expiresIn: 60 });
      expect(new URL(url).host).toBe(`127.0.0.1:${s3Port()}`);
      const download = await fetch(url);
      expect(download.status).toBe(200);
      expect(await download.text()).toBe('ours');
      await expect(own.send(new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: 'unsigned.txt' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      shared.destroy();
      own.destroy();
    }
  });
});

describe("A tenant's export download link (what it shows: the S3 server's key id)", () => {
  let link: URL;
  let otherTenantsDocument: string;

  beforeAll(async () => {
    const api = (path: string, init: RequestInit = {}) => fetch(`${stack.url}${path}`, { ...init, headers: { authorization: `Bearer ${stack.tokens.acme}`, 'content-type': 'application/json' } });
    // The tenant's own token starts its export (GDPR Art. 15) and reads it, as a tenant would.
    const started = (await (await api('/tenants/acme-corp/exports', { method: 'POST', body: '{}' })).json()) as { exportId: string };
    let done: { status: string; download?: { files: Array<{ key: string; url: string }> } } = { status: 'running' };
    for (const deadline = Date.now() + 45_000; done.status !== 'succeeded' && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
      done = (await (await api(`/exports/${started.exportId}`)).json()) as typeof done;
    }
    expect(done.status).toBe('succeeded');
    link = new URL(done.download?.files.find((file) => file.key === 'manifest.json')?.url as string);
    const own = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint), maxAttempts: 1 });
    try {
      const listed = await own.send(new ListObjectsV2Command({ Bucket: LOCAL_DOCUMENTS_BUCKET, Prefix: 'tenants/' }));
      otherTenantsDocument = listed.Contents?.map((object) => object.Key as string).find((key) => !key.startsWith('tenants/acme-corp/')) as string;
    } finally {
      own.destroy();
    }
    expect(otherTenantsDocument).toBeDefined();
  }, 60_000);

  const linkKeyId = () => (link.searchParams.get('X-Amz-Credential') as string).split('/')[0] as string;

  it('should download the file it names', async () => {
    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { tenantId: string }).tenantId).toBe('acme-corp');
  });

  it("should carry a key id that opens nothing in DynamoDB Local: not the data folder's key, no table, the suspended tenant unchanged", async () => {
    const before = await suspendedTenant();
    expect(linkKeyId()).not.toBe(localAwsCredentials(dataDir).accessKeyId);
    const holder = dynamo(stack.dynamoEndpoint, linkKeyId(), localAwsCredentials(dataDir).region);
    try {
      await expect(holder.send(new ScanCommand({ TableName: LOCAL_TABLE_NAME }))).rejects.toBeInstanceOf(ResourceNotFoundException);
      await expect(holder.send(takeOver(LOCAL_TABLE_NAME))).rejects.toBeInstanceOf(ResourceNotFoundException);
    } finally {
      holder.destroy();
    }
    expect(await suspendedTenant()).toEqual(before);
  });

  it('should carry a key id that opens nothing in S3 without its secret: every signature is verified', async () => {
    const holder = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint, { accessKeyId: linkKeyId(), secretAccessKey: 'guessed' }), maxAttempts: 1 });
    const denied = { name: 'SignatureDoesNotMatch', $metadata: expect.objectContaining({ httpStatusCode: 403 }) };
    try {
      await expect(holder.send(new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: otherTenantsDocument }))).rejects.toMatchObject(denied);
      await expect(holder.send(new ListObjectsV2Command({ Bucket: LOCAL_EXPORTS_BUCKET }))).rejects.toMatchObject(denied);
      await expect(holder.send(new PutObjectCommand({ Bucket: LOCAL_EXPORTS_BUCKET, Key: link.pathname.split('/').slice(2).join('/'), Body: '{"tenantId":"forged"}' }))).rejects.toMatchObject(denied);
      await expect(holder.send(new DeleteObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: otherTenantsDocument }))).rejects.toMatchObject(denied);
      // A presigned URL made with the guessed secret is refused the same way.
      const forged = await getSignedUrl(holder, new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: otherTenantsDocument }), { expiresIn: 60 });
      const response = await fetch(forged);
      expect(response.status).toBe(403);
      expect(await response.text()).toContain('SignatureDoesNotMatch');
    } finally {
      holder.destroy();
    }
    // Nothing changed: the link still serves the real manifest, the other tenant's document is still there.
    expect(((await (await fetch(link)).json()) as { tenantId: string }).tenantId).toBe('acme-corp');
    const own = new S3Client({ ...localS3ClientConfig(stack.s3Endpoint), maxAttempts: 1 });
    try {
      await expect(own.send(new GetObjectCommand({ Bucket: LOCAL_DOCUMENTS_BUCKET, Key: otherTenantsDocument }))).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
    } finally {
      own.destroy();
    }
  });

  it.each([
    ['another object (a document of another tenant)', (url: URL) => { url.pathname = `/${LOCAL_DOCUMENTS_BUCKET}/${otherTenantsDocument}`; }],
    ['another method (DELETE)', () => undefined, 'DELETE'],
    ['a longer life (X-Amz-Expires)', (url: URL) => { url.searchParams.set('X-Amz-Expires', '604800'); }],
    ['another date (X-Amz-Date)', (url: URL) => { url.searchParams.set('X-Amz-Date', '20991231T000000Z'); }],
    ['an added parameter (a response header override)', (url: URL) => { url.searchParams.set('response-content-type', 'text/html'); }],
  ] as Array<[string, (url: URL) => void, string?]>)('should refuse the link changed to %s (403 SignatureDoesNotMatch)', async (_change, change, method = 'GET') => {
    const changed = new URL(link);
    change(changed);
    const response = await fetch(changed, { method });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('SignatureDoesNotMatch');
    expect((await fetch(link)).status).toBe(200);
  });

  it('should accept a presigned URL in the form other signers make (no X-Amz-Content-Sha256 in the query) with the right key only', async () => {
    const presign = async (secretAccessKey: string) => {
      const signer = new SignatureV4({ credentials: { accessKeyId: stack.s3Key.accessKeyId, secretAccessKey }, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
      const { hostname, port, pathname } = link;
      const headers = { host: `${hostname}:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
      const unstated = new Set(['x-amz-content-sha256']);
      const signed = await signer.presign({ method: 'GET', protocol: 'http:', hostname, port: Number(port), path: pathname, query: {}, headers }, { expiresIn: 60, unhoistableHeaders: unstated, unsignableHeaders: unstated });
      const url = new URL(`http://${hostname}:${port}${pathname}`);
      for (const [name, value] of Object.entries(signed.query ?? {})) url.searchParams.set(name, value as string);
      expect(url.searchParams.has('X-Amz-Content-Sha256')).toBe(false);
      return url;
    };
    expect((await fetch(await presign(stack.s3Key.secretAccessKey))).status).toBe(200);
    expect((await fetch(await presign('guessed'))).status).toBe(403);
  });
});

describe('A data folder made before the key (DynamoDB Local with -sharedDb)', () => {
  it('should keep its data: the shared database becomes the key\'s, which the key alone reads', async () => {
    expect(filesBefore).toContain('shared-local-instance.db');
    const { accessKeyId, region } = localAwsCredentials(dataDir);
    const files = readdirSync(databaseDir);
    expect(files).toContain(`${accessKeyId}_${region}.db`);
    expect(files).not.toContain('shared-local-instance.db');
    const own = ownClient();
    const before = dynamo(stack.dynamoEndpoint, 'S3RVER');
    try {
      await expect(own.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: OLD_ITEM }))).resolves.toMatchObject({ Item: OLD_ITEM });
      await expect(before.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: OLD_ITEM }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    } finally {
      own.destroy();
      before.destroy();
    }
  });
});

describe('The integration suite\'s own DynamoDB Local', () => {
  it('should run with a key made for this run: the key every run shared before sees none of its tables', async () => {
    expect(suite.accessKeyId).toMatch(/^[A-Z0-9]{20,}$/);
    const mine = new DynamoDBClient({ endpoint: suite.endpoint, region: suite.region, credentials: { accessKeyId: suite.accessKeyId as string, secretAccessKey: 'any' }, maxAttempts: 1 });
    const shared = dynamo(suite.endpoint, 'local', suite.region);
    try {
      await mine.send(new CreateTableCommand({ TableName: suite.table, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
      expect((await mine.send(new ListTablesCommand({}))).TableNames).toContain(suite.table);
      expect((await shared.send(new ListTablesCommand({}))).TableNames).not.toContain(suite.table);
    } finally {
      mine.destroy();
      shared.destroy();
    }
  });
});
