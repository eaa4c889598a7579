/**
 * The requests the data sources send to DynamoDB and S3, asserted with aws-sdk-client-mock: deletes in batches of
 * 25 with unprocessed keys retried, S3 deletes of 1,000 keys with a refused key reported, the documents prefix
 * guard, a vector gone between list and fetch.
 */
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DocumentsSource } from '../../../functions/data-sources/documents-source';
import { deletePrefix } from '../../../functions/data-sources/s3-prefix';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { VectorsSource } from '../../../functions/data-sources/vectors-source';
import { deleteKeys } from '../../../functions/data-sources/table-source';

const dynamo = mockClient(DynamoDBDocumentClient);
const s3Mock = mockClient(S3Client);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const s3 = new S3Client({ region: 'us-east-1' });

beforeEach(() => {
  dynamo.reset();
  s3Mock.reset();
});

it('should delete table keys 25 per BatchWriteItem and send the unprocessed ones again', async () => {
  const keys = Array.from({ length: 30 }, (_, i) => ({ pk: 'TENANT#acme', sk: `LEASE#${i}` }));
  dynamo
    .on(BatchWriteCommand)
    .resolvesOnce({ UnprocessedItems: { t: [{ DeleteRequest: { Key: keys[3] } }] } })
    .resolves({});

  expect(await deleteKeys(client, 't', keys)).toBe(30);

  const sent = dynamo.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems?.t?.map((request) => request.DeleteRequest?.Key?.sk));
  expect(sent).toEqual([keys.slice(0, 25).map((key) => key.sk), ['LEASE#3'], keys.slice(25).map((key) => key.sk)]);
});

it('should list and delete an S3 prefix 1,000 keys at a time, and say which key S3 refused', async () => {
  s3Mock
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: [{ Key: 'tenants/acme/a' }, { Key: 'tenants/acme/b' }], IsTruncated: false })
    .resolves({ Contents: [] });
  s3Mock.on(DeleteObjectsCommand).resolves({});
  expect(await deletePrefix(s3, 'docs', 'tenants/acme/')).toBe(2);
  expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({ Bucket: 'docs', Prefix: 'tenants/acme/', MaxKeys: 1000 });
  expect(s3Mock.commandCalls(DeleteObjectsCommand)[0]?.args[0].input).toEqual({ Bucket: 'docs', Delete: { Objects: [{ Key: 'tenants/acme/a' }, { Key: 'tenants/acme/b' }], Quiet: true } });

  s3Mock.reset();
  s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'tenants/acme/a' }] });
  s3Mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'tenants/acme/a', Code: 'AccessDenied', Message: 'Access Denied' }] });
  await expect(deletePrefix(s3, 'docs', 'tenants/acme/')).rejects.toThrow('S3 refused to delete 1 object(s) under s3://docs/tenants/acme/, first tenants/acme/a: AccessDenied Access Denied');
});

it('should go on listing after the last key it deleted (StartAfter), not from the start of the prefix, and stop at the last page', async () => {
  // A listing made after a delete may still show deleted keys (a delete marker is skipped by S3 on each
  // listing from the start; s3rver walks them again): each next page starts after the last key deleted.
  const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ Key: `tenants/acme/d${String(from + i).padStart(4, '0')}` }));
  s3Mock
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: keys(0, 1000), IsTruncated: true, NextContinuationToken: 't1' })
    .resolvesOnce({ Contents: keys(1000, 1000), IsTruncated: true, NextContinuationToken: 't2' })
    .resolvesOnce({ Contents: keys(2000, 5), IsTruncated: false })
    .resolves({ Contents: [] });
  s3Mock.on(DeleteObjectsCommand).resolves({});

  expect(await deletePrefix(s3, 'docs', 'tenants/acme/')).toBe(2005);

  expect(s3Mock.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)).toEqual([
    { Bucket: 'docs', Prefix: 'tenants/acme/', MaxKeys: 1000 },
    { Bucket: 'docs', Prefix: 'tenants/acme/', MaxKeys: 1000, StartAfter: 'tenants/acme/d0999' },
    { Bucket: 'docs', Prefix: 'tenants/acme/', MaxKeys: 1000, StartAfter: 'tenants/acme/d1999' },
  ]);
  expect(s3Mock.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects?.length)).toEqual([1000, 1000, 5]);
});

it('should refuse a documents prefix without its trailing slash (tenants/acme would reach tenants/acme-eu/)', async () => {
  const source = new DocumentsSource({ s3: () => s3, bucket: 'docs', prefixOf: (tenantId) => `tenants/${tenantId}` });
  await expect(source.count('acme')).rejects.toThrow("The documents prefix of tenant 'acme' must end with '/': 'tenants/acme'.");
  expect(s3Mock.calls()).toHaveLength(0);
});

it('should leave out a local vector deleted between its listing and its fetch', async () => {
  s3Mock.on(GetObjectCommand).rejects(Object.assign(new Error('gone'), { name: 'NoSuchKey' }));
  expect(await new S3VectorStore({ s3: () => s3, bucket: 'docs' }).fetch('acme', ['a/b c'])).toEqual([]);
  expect(s3Mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({ Bucket: 'docs', Key: 'vectors/tenant_acme/a%2Fb%20c.json' });
});

it('should count a local store\'s vectors 1,000 ids per ListObjectsV2 (S3\'s page), not 100: 25,000 vectors are counted within the export\'s CountSource timeout', async () => {
  const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ Key: `vectors/tenant_acme/v${String(from + i).padStart(5, '0')}.json` }));
  s3Mock
    .on(ListObjectsV2Command)
    .resolvesOnce({ Contents: keys(0, 1000), IsTruncated: true, NextContinuationToken: 't1' })
    .resolvesOnce({ Contents: keys(1000, 500), IsTruncated: false });

  expect(await new VectorsSource(new S3VectorStore({ s3: () => s3, bucket: 'docs' })).count('acme')).toBe(1500);

  expect(s3Mock.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)).toEqual([
    { Bucket: 'docs', Prefix: 'vectors/tenant_acme/', MaxKeys: 1000, ContinuationToken: undefined },
    { Bucket: 'docs', Prefix: 'vectors/tenant_acme/', MaxKeys: 1000, ContinuationToken: 't1' },
  ]);
});
