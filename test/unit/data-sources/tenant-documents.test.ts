/**
 * The document convention (functions/data-sources/tenant-documents.ts) and the vector stores' delete by id prefix:
 * Pinecone through the REAL SDK against the in-process fake (list by prefix, then delete by ids, 1,000 at most),
 * the local S3 store's requests asserted with aws-sdk-client-mock, and putDocument's writes on both.
 */
import { DeleteObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { PineconeVectorStore } from '../../../functions/data-sources/pinecone-vector-store';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { DocumentNameError, deleteDocument, documentNameProblem, putDocument } from '../../../functions/data-sources/tenant-documents';
import { FakePinecone } from '../../support/fake-pinecone';

const INDEX = 'tenants-pooled';
const HOST = `${INDEX}.svc.pinecone.fake`;
let fake: FakePinecone;
const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });

function pinecone(): PineconeVectorStore {
  const client = fake.client();
  return new PineconeVectorStore({ pinecone: async () => client, placementOf: async (tenantId) => ({ index: INDEX, namespace: `tenant_${tenantId}` }) });
}

function ids(namespace: string): string[] {
  return [...(fake.vectors(INDEX, namespace)?.keys() ?? [])].sort();
}

function put(namespace: string, vectorIds: readonly string[]): void {
  const vectors = fake.vectors(INDEX, namespace);
  for (const id of vectorIds) vectors?.set(id, { id, values: [0, 0, 0, 1] });
}

beforeEach(() => {
  fake = new FakePinecone();
  fake.createIndex(INDEX, 4);
  fake.seed(INDEX, 'tenant_acme', 0, 4);
  fake.seed(INDEX, 'tenant_acme-eu', 0, 4);
  s3Mock.reset();
});

describe('Pinecone: deleteByPrefix', () => {
  it('should list the ids under the prefix page by page, then delete those ids (not the look-alike document, not the kept ones)', async () => {
    const report = Array.from({ length: 250 }, (_, i) => `report.pdf#${i}`);
    put('tenant_acme', [...report, 'report.pdf.bak#0', 'report#0']);
    put('tenant_acme-eu', ['report.pdf#0']);

    const result = await pinecone().deleteByPrefix('acme', 'report.pdf#', { keep: new Set(['report.pdf#0', 'report.pdf#1']) });

    expect(result).toEqual({ deleted: 248 });
    expect(ids('tenant_acme')).toEqual(['report#0', 'report.pdf#0', 'report.pdf#1', 'report.pdf.bak#0']);
    expect(ids('tenant_acme-eu')).toEqual(['report.pdf#0']);
    const data = fake.requests.filter((request) => request.host === HOST);
    expect(data.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /vectors/list', 'GET /vectors/list', 'GET /vectors/list', 'POST /vectors/delete']);
    expect(data[0]?.query).toMatchObject({ namespace: ['tenant_acme'], prefix: ['report.pdf#'], limit: ['100'] });
    expect(data[1]?.query.paginationToken).toHaveLength(1);
    expect(data[3]?.body).toEqual({ ids: report.filter((id) => id !== 'report.pdf#0' && id !== 'report.pdf#1').sort(), namespace: 'tenant_acme' });
  });

  it('should delete more than 1,000 ids in requests of at most 1,000', async () => {
    put('tenant_acme', Array.from({ length: 1500 }, (_, i) => `big#${String(i).padStart(4, '0')}`));
    expect(await pinecone().deleteByPrefix('acme', 'big#')).toEqual({ deleted: 1500 });
    const deletes = fake.requests.filter((request) => request.path === '/vectors/delete').map((request) => (request.body as { ids: string[] }).ids.length);
    expect(deletes).toEqual([1000, 500]);
    expect(ids('tenant_acme')).toEqual([]);
  });

  it('should send no delete when nothing is under the prefix, answer 0 for a namespace that does not exist, and refuse an empty prefix', async () => {
    put('tenant_acme', ['other#0']);
    expect(await pinecone().deleteByPrefix('acme', 'report.pdf#')).toEqual({ deleted: 0 });
    expect(await pinecone().deleteByPrefix('nobody', 'report.pdf#')).toEqual({ deleted: 0 });
    expect(fake.requests.filter((request) => request.method === 'POST')).toEqual([]);
    await expect(pinecone().deleteByPrefix('acme', '')).rejects.toThrow(RangeError);
    expect(ids('tenant_acme')).toEqual(['other#0']);
  });

  it('should let a failed list or delete through (the caller calls again), deleting nothing on a failed list', async () => {
    put('tenant_acme', ['a#0', 'a#1']);
    fake.failNext((request) => request.path === '/vectors/list', 500);
    await expect(pinecone().deleteByPrefix('acme', 'a#')).rejects.toThrow();
    expect(ids('tenant_acme')).toEqual(['a#0', 'a#1']);
    fake.failNext((request) => request.path === '/vectors/delete', 503);
    await expect(pinecone().deleteByPrefix('acme', 'a#')).rejects.toThrow();
    expect(await pinecone().deleteByPrefix('acme', 'a#')).toEqual({ deleted: 2 });
  });
});

describe('the local S3 store: deleteByPrefix', () => {
  it('should list under the encoded id prefix and delete the keys not kept', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: 'vectors/tenant_acme/q%2Freport.pdf%230.json' }, { Key: 'vectors/tenant_acme/q%2Freport.pdf%231.json' }, { Key: 'vectors/tenant_acme/q%2Freport.pdf%232.json' }],
    });
    s3Mock.on(DeleteObjectsCommand).resolves({});
    const result = await new S3VectorStore({ s3: () => s3, bucket: 'docs' }).deleteByPrefix('acme', 'q/report.pdf#', { keep: new Set(['q/report.pdf#0']) });
    expect(result).toEqual({ deleted: 2 });
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({ Bucket: 'docs', Prefix: 'vectors/tenant_acme/q%2Freport.pdf%23' });
    expect(s3Mock.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects)).toEqual([
      [{ Key: 'vectors/tenant_acme/q%2Freport.pdf%231.json' }, { Key: 'vectors/tenant_acme/q%2Freport.pdf%232.json' }],
    ]);
  });

  it('should send no DeleteObjects when every key listed is kept, and refuse an empty prefix', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'vectors/tenant_acme/a%230.json' }] });
    expect(await new S3VectorStore({ s3: () => s3, bucket: 'docs' }).deleteByPrefix('acme', 'a#', { keep: new Set(['a#0']) })).toEqual({ deleted: 0 });
    expect(s3Mock.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    await expect(new S3VectorStore({ s3: () => s3, bucket: 'docs' }).deleteByPrefix('acme', '')).rejects.toThrow(RangeError);
  });
});

describe('putDocument and deleteDocument', () => {
  const deps = () => ({ s3: () => s3, documents: { bucket: 'docs' }, vectorStore: pinecone() });

  it('should replace a document written again with fewer chunks: its object, its chunks 0..n-1, and none of the old ones past n', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const store = deps();
    const first = await putDocument(store, 'acme', { name: 'policies/compliance_policy.pdf', body: 'v1', contentType: 'application/pdf', chunks: [1, 2, 3].map((n) => ({ values: [n, 0, 0, 0] })) });
    expect(first).toEqual({ key: 'tenants/acme/policies/compliance_policy.pdf', chunkIds: ['policies/compliance_policy.pdf#0', 'policies/compliance_policy.pdf#1', 'policies/compliance_policy.pdf#2'], staleChunksDeleted: 0 });
    const second = await putDocument(store, 'acme', { name: 'policies/compliance_policy.pdf', body: 'v2', chunks: [{ values: [9, 9, 9, 9], metadata: { version: 2 } }] });

    expect(second.staleChunksDeleted).toBe(2);
    expect(ids('tenant_acme')).toEqual(['policies/compliance_policy.pdf#0']);
    expect(fake.vectors(INDEX, 'tenant_acme')?.get('policies/compliance_policy.pdf#0')).toEqual({
      id: 'policies/compliance_policy.pdf#0',
      values: [9, 9, 9, 9],
      metadata: { version: 2, document: 'policies/compliance_policy.pdf', chunk: 0 },
    });
    expect(s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'docs', Key: 'tenants/acme/policies/compliance_policy.pdf', Body: 'v1', ContentType: 'application/pdf' },
      { Bucket: 'docs', Key: 'tenants/acme/policies/compliance_policy.pdf', Body: 'v2' },
    ]);
    // The upsert comes before the delete of the stale chunks: the document always has vectors.
    expect(fake.log().filter((line) => line.startsWith('POST')).slice(-2)).toEqual([`POST ${HOST} /vectors/upsert`, `POST ${HOST} /vectors/delete`]);
  });

  it('should delete a document\'s object and every one of its chunks, and nothing of another document', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    s3Mock.on(DeleteObjectCommand).resolves({});
    const store = deps();
    await putDocument(store, 'acme', { name: 'a.txt', body: 'a', chunks: [{ values: [1, 0, 0, 0] }, { values: [2, 0, 0, 0] }] });
    await putDocument(store, 'acme', { name: 'a.txt.old', body: 'b', chunks: [{ values: [3, 0, 0, 0] }] });
    expect(await deleteDocument(store, 'acme', 'a.txt')).toEqual({ chunksDeleted: 2 });
    expect(ids('tenant_acme')).toEqual(['a.txt.old#0']);
    expect(s3Mock.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({ Bucket: 'docs', Key: 'tenants/acme/a.txt' });
  });

  it.each([
    ['must not be empty', ''],
    ["must not contain '#'", 'notes#2.txt'],
    ["must not start with '/'", '/abs.txt'],
    ['path segments', 'a//b.txt'],
    ['path segments', 'a/../b.txt'],
    ['control characters', 'line\nbreak.txt'],
    ['at most 512 bytes', 'x'.repeat(513)],
  ])('should refuse a document name that %s, writing nothing', async (problem, name) => {
    expect(documentNameProblem(name)).toContain(problem);
    await expect(putDocument(deps(), 'acme', { name, body: 'x', chunks: [{ values: [1, 0, 0, 0] }] })).rejects.toThrow(DocumentNameError);
    expect(s3Mock.calls()).toHaveLength(0);
    expect(fake.requests).toEqual([]);
  });

  it('should accept names with folders, spaces and non-ASCII letters', () => {
    for (const name of ['compliance_policy.pdf', 'Contrats 2026/accord signé.pdf', 'a/b/c.md']) expect(documentNameProblem(name)).toBeUndefined();
  });
});
