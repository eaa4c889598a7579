/**
 * A table an older version kept in the data folder (no byTenant index; operations and local schedules without
 * ownerTenantId; no stream) brought up to the current key design when the local stack starts on it: afterwards
 * the tenant's operations data source finds what it owns, the table's stream (the lifecycle events' outbox)
 * carries new audit items, and a second run changes nothing.
 */
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { OperationsSource } from '../../../functions/data-sources/operations-source';
import { config } from '../../../functions/shared/config';
import { BY_TENANT_INDEX, createTableInput } from '../../../functions/tenants/tenant-table';
import { migrateTable } from '../../../infra/local/table-migration';

const tableName = `${config.tableName}-old`;
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }));

beforeAll(async () => {
  // The key design before the byTenant index and the stream.
  const { StreamSpecification: _noStream, ...current } = createTableInput(tableName);
  await client.send(
    new CreateTableCommand({
      ...current,
      AttributeDefinitions: current.AttributeDefinitions.filter((definition) => definition.AttributeName !== BY_TENANT_INDEX.partitionKey),
      GlobalSecondaryIndexes: current.GlobalSecondaryIndexes.filter((index) => index.IndexName !== BY_TENANT_INDEX.name),
    }),
  );
  const put = (Item: Record<string, unknown>) => client.send(new PutCommand({ TableName: tableName, Item }));
  await put({ pk: 'OPERATION#op-1', sk: 'OPERATION', type: 'operation', operationId: 'op-1', tenantId: 'acme', workflow: 'plan-change', status: 'succeeded' });
  await put({ pk: 'OPERATION#op-2', sk: 'OPERATION', type: 'operation', operationId: 'op-2', tenantId: 'acme-eu', workflow: 'export', status: 'succeeded' });
  await put({ pk: 'SCHEDULE#plan-change-op-3', sk: 'SCHEDULE', type: 'schedule', name: 'plan-change-op-3', target: 'plan-change.period-end', payload: { operationId: 'op-3', tenantId: 'acme' }, at: '2026-12-01T00:00:00.000Z', attempts: 0 });
  await put({ pk: 'TENANT#acme', sk: 'TENANT', type: 'tenant', tenantId: 'acme' });
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  client.destroy();
});

it('should add the byTenant index and the stream, and give the older operations and schedules their owner, once', async () => {
  const operations = new OperationsSource({ client, tableName });
  await expect(operations.count('acme')).rejects.toThrow(); // no such index yet

  expect(await migrateTable(client, tableName)).toEqual({ indexesAdded: [BY_TENANT_INDEX.name], itemsOwned: 3, streamEnabled: true });
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  expect(Table?.StreamSpecification).toEqual(createTableInput(tableName).StreamSpecification);
  expect(Table?.LatestStreamArn).toEqual(expect.any(String));

  expect((await operations.exportPage('acme', null, 10)).records).toEqual([expect.objectContaining({ operationId: 'op-1', tenantId: 'acme' })]);
  expect(await operations.verifyPurged('acme')).toEqual({ remaining: 2, retained: 0 }); // op-1 and its tenant's pending schedule
  expect(await operations.count('acme-eu')).toBe(1);
  expect(await migrateTable(client, tableName)).toEqual({ indexesAdded: [], itemsOwned: 0, streamEnabled: false });
});
