/**
 * PartitionSource and TenantIndexSource against DynamoDB responses that DynamoDB Local rarely gives (asserted with
 * aws-sdk-client-mock): pages without `Items`/`Count` (a Select COUNT or an empty filter page), paging through
 * LastEvaluatedKey, default records without the table's keys, an item kind with no sort-key rule, and a purge
 * that gives up after DynamoDB keeps leaving deletes unprocessed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { deleteKeys, itemIsOfKind, PartitionSource, TenantIndexSource } from '../../../functions/data-sources/table-source';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const description = { summary: 'Test items.', fields: { value: 'a number' } };

const partition = () =>
  new PartitionSource({
    client,
    tableName: 't',
    name: 'leases',
    description,
    tableItems: [
      { name: 'lease', pkPrefix: 'TENANT#', skPrefix: 'LEASE#' },
      { name: 'quota', pkPrefix: 'TENANT#', sk: 'QUOTA' },
    ],
  });
const indexed = () =>
  new TenantIndexSource({
    client,
    tableName: 't',
    name: 'operations',
    description,
    tableItems: [{ name: 'operation', pkPrefix: 'OPERATION#', sk: 'OPERATION' }],
  });

beforeEach(() => dynamo.reset());
afterEach(() => jest.useRealTimers());

it('should treat an item kind with neither sk nor skPrefix as every sort key of its partitions', () => {
  const kind = { name: 'any', pkPrefix: 'TENANT#' };
  expect(itemIsOfKind({ pk: 'TENANT#acme', sk: 'ANYTHING' }, kind)).toBe(true);
  expect(itemIsOfKind({ pk: 'OPERATION#1', sk: 'ANYTHING' }, kind)).toBe(false);
});

it('should count a partition source through every page of every kind, a page without Count as 0', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ Count: 3, LastEvaluatedKey: { pk: 'TENANT#acme', sk: 'LEASE#3' } })
    .resolvesOnce({}) // no Count: nothing on this page
    .resolvesOnce({ Count: 1 });

  expect(await partition().count('acme')).toBe(4);
  const inputs = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
  expect(inputs.map((input) => [input.ExpressionAttributeValues?.[':sk'], input.ExclusiveStartKey?.sk, input.Select])).toEqual([
    ['LEASE#', undefined, 'COUNT'],
    ['LEASE#', 'LEASE#3', 'COUNT'],
    ['QUOTA', undefined, 'COUNT'],
  ]);
});

it('should export partition records without pk and sk, across kinds, and end on a kind that has no Items', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ Items: [{ pk: 'TENANT#acme', sk: 'LEASE#1', value: 1 }] })
    .resolvesOnce({}); // the quota item is absent: no Items at all

  const page = await partition().exportPage('acme', null, 10);
  expect(page).toEqual({ records: [{ value: 1 }], nextCursor: null });
});

it('should purge partition keys found on every page, a page without Items adding none', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ Items: [{ pk: 'TENANT#acme', sk: 'LEASE#1' }], LastEvaluatedKey: { pk: 'TENANT#acme', sk: 'LEASE#1' } })
    .resolvesOnce({})
    .resolvesOnce({ Items: [{ pk: 'TENANT#acme', sk: 'QUOTA' }] });
  dynamo.on(BatchWriteCommand).resolves({});

  expect(await partition().purge('acme')).toEqual({ deleted: 2 });
  const deleted = dynamo.commandCalls(BatchWriteCommand).flatMap((call) => call.args[0].input.RequestItems?.t?.map((request) => request.DeleteRequest?.Key) ?? []);
  expect(deleted).toEqual([
    { pk: 'TENANT#acme', sk: 'LEASE#1' },
    { pk: 'TENANT#acme', sk: 'QUOTA' },
  ]);
});

it('should count an index source through every page of the byTenant index, a page without Count as 0', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ Count: 2, LastEvaluatedKey: { pk: 'OPERATION#2', sk: 'OPERATION', ownerTenantId: 'acme' } })
    .resolvesOnce({});

  expect(await indexed().verifyPurged('acme')).toEqual({ remaining: 2 });
  const inputs = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
  // Only this tenant's items, of this kind: the index's key, never a Scan of the table.
  expect(inputs[0]).toMatchObject({
    IndexName: 'byTenant',
    KeyConditionExpression: '#owner = :owner AND begins_with(#pk, :pkPrefix)',
    FilterExpression: '#sk = :sk',
    ExpressionAttributeValues: { ':owner': 'acme', ':pkPrefix': 'OPERATION#', ':sk': 'OPERATION' },
  });
  expect(inputs[1]?.ExclusiveStartKey).toEqual({ pk: 'OPERATION#2', sk: 'OPERATION', ownerTenantId: 'acme' });
});

it('should keep querying past filtered-out pages (no Items) until the export page is full, and resume from its cursor', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ LastEvaluatedKey: { pk: 'OPERATION#1', sk: 'OPERATION', ownerTenantId: 'acme' } }) // every item of this page filtered out
    .resolvesOnce({ Items: [{ pk: 'OPERATION#7', sk: 'OPERATION', ownerTenantId: 'acme', tenantId: 'acme', state: 'DONE' }], LastEvaluatedKey: { pk: 'OPERATION#7', sk: 'OPERATION', ownerTenantId: 'acme' } });

  const page = await indexed().exportPage('acme', null, 1);
  expect(page.records).toEqual([{ tenantId: 'acme', state: 'DONE' }]);
  expect(dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input.Limit)).toEqual([1, 1]);

  dynamo.reset();
  dynamo.on(QueryCommand).resolves({ Items: [] });
  const next = await indexed().exportPage('acme', page.nextCursor, 1);
  expect(next).toEqual({ records: [], nextCursor: null });
  expect(dynamo.commandCalls(QueryCommand)[0]?.args[0].input.ExclusiveStartKey).toEqual({ pk: 'OPERATION#7', sk: 'OPERATION', ownerTenantId: 'acme' });
});

it('should refuse an item kind with an sk prefix, which the byTenant index cannot select', () => {
  expect(() => new TenantIndexSource({ client, tableName: 't', name: 'bad', description, tableItems: [{ name: 'x', pkPrefix: 'X#', skPrefix: 'Y#' }] })).toThrow("item kind 'x' has an sk prefix");
});

it('should collect index-source keys from every page, a page without Items adding none', async () => {
  dynamo
    .on(QueryCommand)
    .resolvesOnce({ LastEvaluatedKey: { pk: 'OPERATION#1', sk: 'OPERATION', ownerTenantId: 'acme' } })
    .resolvesOnce({ Items: [{ pk: 'OPERATION#7', sk: 'OPERATION' }] });

  expect(await indexed().keys('acme')).toEqual([{ pk: 'OPERATION#7', sk: 'OPERATION' }]);
});

it('should give up with a clear error when DynamoDB leaves deletes unprocessed after 10 retries', async () => {
  jest.useFakeTimers();
  const keys = [{ pk: 'TENANT#acme', sk: 'LEASE#1' }];
  dynamo.on(BatchWriteCommand).resolves({ UnprocessedItems: { t: [{ DeleteRequest: { Key: keys[0] } }] } });

  const purge = deleteKeys(client, 't', keys);
  const outcome = expect(purge).rejects.toThrow('DynamoDB left 1 deletes unprocessed after 11 attempts.');
  await jest.advanceTimersByTimeAsync(60_000);
  await outcome;
  expect(dynamo.commandCalls(BatchWriteCommand)).toHaveLength(11);
});
