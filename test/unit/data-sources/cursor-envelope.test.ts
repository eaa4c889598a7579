/**
 * Cursors that decode as JSON but are not a source's envelope are refused with the default message, before any
 * request; a vector without metadata is exported without a metadata field (VectorsSource over the Pinecone store
 * and the in-process fake, test/support/fake-pinecone.ts).
 */
import { DataSourceCursorError } from '../../../functions/data-sources/data-source';
import { PineconeVectorStore } from '../../../functions/data-sources/pinecone-vector-store';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { FakePinecone } from '../../support/fake-pinecone';

const INDEX = 'tenants-pooled';

function vectors(fake: FakePinecone) {
  const client = fake.client();
  return new VectorsSource(new PineconeVectorStore({ pinecone: async () => client, placementOf: async (tenantId) => ({ index: INDEX, namespace: `tenant_${tenantId}` }) }));
}

it.each([
  ['a JSON array', []],
  ['an envelope without tenantId', { source: 'vectors', position: { paginationToken: 'x' } }],
  ['an envelope with an extra key', { source: 'vectors', tenantId: 'acme', position: { paginationToken: 'x' }, admin: true }],
])('should refuse %s as a cursor, sending nothing to Pinecone', async (_, value) => {
  const fake = new FakePinecone();
  fake.createIndex(INDEX, 2);
  const cursor = Buffer.from(JSON.stringify(value)).toString('base64url');

  const refused = vectors(fake).exportPage('acme', cursor, 10);
  await expect(refused).rejects.toThrow(DataSourceCursorError);
  await expect(refused).rejects.toThrow("Data source 'vectors': the cursor is not a cursor this source issued.");
  expect(fake.requests).toHaveLength(0);
});

it('should export a vector without metadata without a metadata field', async () => {
  const fake = new FakePinecone();
  fake.createIndex(INDEX, 2);
  const client = fake.client();
  await new PineconeVectorStore({ pinecone: async () => client, placementOf: async () => ({ index: INDEX, namespace: 'tenant_acme' }) }).upsert('acme', [{ id: 'plain', values: [1, 2] }]);

  expect(await vectors(fake).exportPage('acme', null, 10)).toEqual({ records: [{ id: 'plain', values: [1, 2] }], nextCursor: null });
});
