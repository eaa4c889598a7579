/**
 * The S3-backed sources against S3 responses without the optional fields (asserted with aws-sdk-client-mock):
 * a document without body, content type, Last-Modified or ETag on GetObject, the listing's values used instead
 * or null; S3 vectors with and without metadata; an S3 error other than NoSuchKey not hidden as "vector gone".
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { DocumentsSource } from '../../../functions/data-sources/documents-source';
import { encodeVectorValues, S3VectorStore } from '../../../functions/data-sources/s3-vector-store';

const s3Mock = mockClient(S3Client);
const s3 = new S3Client({ region: 'us-east-1' });
const body = (text: string) => ({ transformToByteArray: async () => new TextEncoder().encode(text), transformToString: async () => text }) as never;

beforeEach(() => s3Mock.reset());

it('should export documents whose GetObject lacks body, type, date or ETag with the listing\'s values, else null', async () => {
  const listed = new Date('2026-11-01T10:00:00Z');
  s3Mock.on(ListObjectsV2Command).resolves({
    Contents: [
      { Key: 'tenants/acme/empty.txt', Size: 0, LastModified: listed, ETag: '"listed-etag"' },
      { Key: 'tenants/acme/bare.txt', Size: 2 },
      { Key: 'tenants/acme/full.txt', Size: 2, LastModified: listed, ETag: '"listed"' },
    ],
  });
  s3Mock.on(GetObjectCommand, { Key: 'tenants/acme/empty.txt' }).resolves({}); // no Body: an empty object
  s3Mock.on(GetObjectCommand, { Key: 'tenants/acme/bare.txt' }).resolves({ Body: body('hi') });
  s3Mock
    .on(GetObjectCommand, { Key: 'tenants/acme/full.txt' })
    .resolves({ Body: body('ok'), ContentType: 'text/plain', LastModified: new Date('2026-11-02T00:00:00Z'), ETag: '"got"' });

  const source = new DocumentsSource({ s3: () => s3, bucket: 'docs', prefixOf: (tenantId) => `tenants/${tenantId}/` });
  const page = await source.exportPage('acme', null, 10);

  expect(page.nextCursor).toBeNull();
  expect(page.records).toEqual([
    { key: 'empty.txt', size: 0, contentType: null, lastModified: '2026-11-01T10:00:00.000Z', etag: '"listed-etag"', body: '' },
    { key: 'bare.txt', size: 2, contentType: null, lastModified: null, etag: null, body: 'hi' },
    { key: 'full.txt', size: 2, contentType: 'text/plain', lastModified: '2026-11-02T00:00:00.000Z', etag: '"got"', body: 'ok' },
  ]);
});

it('should write S3 vectors with metadata only when they have some, and read them back the same', async () => {
  s3Mock.on(PutObjectCommand).resolves({});
  const store = new S3VectorStore({ s3: () => s3, bucket: 'docs' });
  await store.upsert('acme', [
    { id: 'plain', values: [0.5, 1] },
    { id: 'tagged', values: [2], metadata: { source: 'faq' } },
  ]);

  const written = Object.fromEntries(s3Mock.commandCalls(PutObjectCommand).map((call) => [call.args[0].input.Key, JSON.parse(call.args[0].input.Body as string) as unknown]));
  expect(written).toEqual({
    'vectors/tenant_acme/plain.json': { id: 'plain', dimension: 2, values: encodeVectorValues([0.5, 1]) },
    'vectors/tenant_acme/tagged.json': { id: 'tagged', dimension: 1, values: encodeVectorValues([2]), metadata: { source: 'faq' } },
  });

  for (const [Key, stored] of Object.entries(written)) s3Mock.on(GetObjectCommand, { Key }).resolves({ Body: body(JSON.stringify(stored)) });
  expect(await store.fetch('acme', ['plain', 'tagged'])).toEqual([
    { id: 'plain', values: [0.5, 1] },
    { id: 'tagged', values: [2], metadata: { source: 'faq' } },
  ]);
});

it('should pass on an S3 error other than NoSuchKey when fetching vectors, not report the vector as gone', async () => {
  s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
  await expect(new S3VectorStore({ s3: () => s3, bucket: 'docs' }).fetch('acme', ['a'])).rejects.toThrow('Access Denied');
});
