/**
 * The Pinecone vector store through the REAL SDK against the in-process fake (test/support/fake-pinecone.ts):
 * the requests it sends (list with a pagination token, fetch by ids, deleteAll of the tenant's namespace only),
 * and the vectors data source on top of it.
 */
import { PineconeVectorStore } from '../../../functions/data-sources/pinecone-vector-store';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { DataSourceCursorError } from '../../../functions/data-sources/data-source';
import { FakePinecone } from '../../support/fake-pinecone';

const INDEX = 'tenants-pooled';
let fake: FakePinecone;
let loads: number;

function store() {
  const client = fake.client();
  return new PineconeVectorStore({
    pinecone: async () => {
      loads += 1;
      return client;
    },
    placementOf: async (tenantId) => ({ index: INDEX, namespace: `tenant_${tenantId}` }),
  });
}

beforeEach(() => {
  fake = new FakePinecone();
  loads = 0;
  fake.createIndex(INDEX, 4);
  fake.seed(INDEX, 'tenant_acme', 250, 4);
  fake.seed(INDEX, 'tenant_acme-eu', 3, 4);
});

it('should list the namespace\'s ids page by page with the pagination token and fetch each page by ids', async () => {
  const source = new VectorsSource(store());
  const first = await source.exportPage('acme', null, 100);
  const second = await source.exportPage('acme', first.nextCursor, 100);
  const third = await source.exportPage('acme', second.nextCursor, 100);

  expect([first.records.length, second.records.length, third.records.length]).toEqual([100, 100, 50]);
  expect(third.nextCursor).toBeNull();
  expect(first.records[0]).toEqual({ id: 'doc-0000', values: [0, 0.001, 0.002, 0.003], metadata: { n: 0 } });
  expect(third.records[49]?.id).toBe('doc-0249');
  const host = `${INDEX}.svc.pinecone.fake`;
  const data = fake.requests.filter((request) => request.host === host);
  expect(data.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /vectors/list', 'GET /vectors/fetch', 'GET /vectors/list', 'GET /vectors/fetch', 'GET /vectors/list', 'GET /vectors/fetch']);
  expect(data[0]?.query).toMatchObject({ namespace: ['tenant_acme'], limit: ['100'] });
  expect(data[0]?.query.paginationToken).toBeUndefined();
  expect(data[2]?.query).toMatchObject({ namespace: ['tenant_acme'], paginationToken: ['doc-0099'] });
  expect(data[1]?.query.ids).toHaveLength(100);
  expect(await source.count('acme')).toBe(250);
  // Counting asks for large pages; Pinecone lists at most 100 ids per request.
  const lists = fake.requests.filter((request) => request.host === host && request.path === '/vectors/list').slice(3);
  expect(lists.map((request) => request.query.limit)).toEqual([['100'], ['100'], ['100']]);
});

it('should delete all of the tenant\'s namespace and no other, and count 0 after', async () => {
  const source = new VectorsSource(store());
  expect(await source.purge('acme')).toEqual({ deleted: 250 });
  expect(fake.requests.filter((request) => request.method === 'POST').map((request) => request.body)).toEqual([{ deleteAll: true, namespace: 'tenant_acme' }]);
  expect(await source.verifyPurged('acme')).toEqual({ remaining: 0 });
  expect(fake.vectors(INDEX, 'tenant_acme-eu')?.size).toBe(3);
  // Purging again: nothing to delete, no delete sent (a namespace that is gone is not an error either).
  expect(await source.purge('acme')).toEqual({ deleted: 0 });
  await expect(store().deleteAll('acme')).resolves.toBeUndefined();
});

it('should upsert vectors into the tenant\'s namespace', async () => {
  const vectors = store();
  await vectors.upsert('acme-corp', [{ id: 'a', values: [1, 2, 3, 4], metadata: { doc: 'x' } }]);
  expect(await vectors.fetch('acme-corp', ['a', 'missing'])).toEqual([{ id: 'a', values: [1, 2, 3, 4], metadata: { doc: 'x' } }]);
});

it('should load the SDK client only when a call needs it, and refuse another tenant\'s cursor', async () => {
  const source = new VectorsSource(store());
  expect(loads).toBe(0);
  const page = await source.exportPage('acme', null, 10);
  expect(loads).toBeGreaterThan(0);
  await expect(source.exportPage('acme-eu', page.nextCursor, 10)).rejects.toThrow(DataSourceCursorError);
});
