/**
 * The Pinecone vector store's answers when Pinecone says "not found" or fails, and for records Pinecone returns
 * without optional fields, through the REAL SDK against the in-process fake (test/support/fake-pinecone.ts).
 * Pinecone's list response's `vectors` and a fetched record's `values` are optional in the API
 * (https://docs.pinecone.io/reference/api/2025-04/data-plane/list, .../fetch: a sparse-only record has no dense
 * values): a fetch wrapper drops them to give those shapes.
 */
import { Pinecone } from '@pinecone-database/pinecone';
import { PineconeVectorStore } from '../../../functions/data-sources/pinecone-vector-store';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { FAKE_CONTROLLER, FakePinecone } from '../../support/fake-pinecone';

const INDEX = 'tenants-pooled';
let fake: FakePinecone;

/** A store over the fake; `rewrite` may change each JSON response body before the SDK reads it. */
function store(rewrite?: (path: string, body: Record<string, unknown>) => Record<string, unknown>) {
  const client = new Pinecone({
    apiKey: 'fake-key',
    controllerHostUrl: FAKE_CONTROLLER,
    maxRetries: 0,
    fetchApi: async (input: unknown, init?: RequestInit) => {
      const response = await fake.handle(input, init);
      if (!rewrite || response.status !== 200) return response;
      const body = (await response.json()) as Record<string, unknown>;
      const path = new URL(String(input instanceof Request ? input.url : input)).pathname;
      return new Response(JSON.stringify(rewrite(path, body)), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });
  return new PineconeVectorStore({ pinecone: async () => client, placementOf: async (tenantId) => ({ index: INDEX, namespace: `tenant_${tenantId}` }) });
}

const isData = (path: string) => (request: { host: string; path: string }) => request.host === `${INDEX}.svc.pinecone.fake` && request.path === path;

beforeEach(() => {
  fake = new FakePinecone();
  fake.createIndex(INDEX, 2);
  fake.seed(INDEX, 'tenant_acme', 3, 2);
});

it('should list no ids when Pinecone answers 404 (no namespace)', async () => {
  fake.failNext(isData('/vectors/list'), 404);
  expect(await store().listIds('acme', { limit: 10 })).toEqual({ ids: [] });
});

it('should pass on a Pinecone refusal when listing (400), not report an empty namespace', async () => {
  fake.failNext(isData('/vectors/list'), 400);
  await expect(new VectorsSource(store()).count('acme')).rejects.toMatchObject({ name: 'PineconeBadRequestError' });
});

it('should list no ids when the list response has no vectors field', async () => {
  const source = store((path, body) => (path === '/vectors/list' ? { ...body, vectors: undefined } : body));
  expect(await source.listIds('acme', { limit: 10 })).toEqual({ ids: [] });
});

it('should upsert a vector without metadata without any, and fetch it back without metadata', async () => {
  const vectors = store();
  await vectors.upsert('acme', [{ id: 'plain', values: [0.25, 0.5] }]);
  expect(fake.vectors(INDEX, 'tenant_acme')?.get('plain')).toEqual({ id: 'plain', values: [0.25, 0.5] });
  expect(await vectors.fetch('acme', ['plain'])).toEqual([{ id: 'plain', values: [0.25, 0.5] }]);
});

it('should export a fetched record without dense values as an empty values array', async () => {
  const source = store((path, body) => {
    if (path !== '/vectors/fetch') return body;
    const records = body.vectors as Record<string, Record<string, unknown>>;
    return { ...body, vectors: Object.fromEntries(Object.entries(records).map(([id, record]) => [id, { ...record, values: undefined }])) };
  });
  expect(await source.fetch('acme', ['doc-0001'])).toEqual([{ id: 'doc-0001', values: [], metadata: { n: 1 } }]);
});

it('should pass on a Pinecone refusal when deleting the namespace (400), and keep its vectors', async () => {
  fake.failNext(isData('/vectors/delete'), 400);
  await expect(store().deleteAll('acme')).rejects.toMatchObject({ name: 'PineconeBadRequestError' });
  expect(fake.vectors(INDEX, 'tenant_acme')?.size).toBe(3);
});
