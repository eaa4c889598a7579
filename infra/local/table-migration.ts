/**
 * Bring a table kept in the local stack's data folder by an older version up to the key design of
 * functions/tenants/tenant-table.ts: put `ownerTenantId` on the items of partitions of their own written before
 * the byTenant index existed (operations by their `tenantId`, local schedules by their payload's), so export and
 * hard delete find them, then add the indexes it lacks (UpdateTable, one at a time as DynamoDB requires), and
 * the stream the lifecycle events are published from (events of changes made before it are not published).
 * Local only: on AWS, CloudFormation adds the index (see README, "Upgrading").
 */
import { performance } from 'node:perf_hooks';
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BY_TENANT_INDEX, createTableInput } from '../../functions/tenants/tenant-table';

/** What was done: the indexes added, the items given an owner, and whether the stream was turned on. */
export interface MigrationResult {
  readonly indexesAdded: string[];
  readonly itemsOwned: number;
  readonly streamEnabled: boolean;
}

export async function migrateTable(client: DynamoDBDocumentClient, tableName: string): Promise<MigrationResult> {
  let itemsOwned = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'attribute_not_exists(#owner) AND ((begins_with(pk, :operation) AND attribute_exists(tenantId)) OR (begins_with(pk, :schedule) AND attribute_exists(payload.tenantId)))',
        ExpressionAttributeNames: { '#owner': BY_TENANT_INDEX.partitionKey },
        ExpressionAttributeValues: { ':operation': 'OPERATION#', ':schedule': 'SCHEDULE#' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const owner = String(item.tenantId ?? (item.payload as { tenantId?: unknown }).tenantId);
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: 'SET #owner = :owner',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#owner': BY_TENANT_INDEX.partitionKey },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
      itemsOwned += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  // Indexes after the owners: DynamoDB fills a new index from the items as they are (DynamoDB Local fails
  // writes made while an index it was just given is still being built), then it is used only once ACTIVE.
  const wanted = createTableInput(tableName);
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  // One UpdateTable may not change the stream and an index at once: the stream first.
  const streamEnabled = Table?.StreamSpecification?.StreamEnabled !== true;
  if (streamEnabled) await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: wanted.StreamSpecification }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const indexesAdded: string[] = [];
  for (const index of wanted.GlobalSecondaryIndexes.filter((candidate) => !present.has(candidate.IndexName))) {
    await client.send(new UpdateTableCommand({ TableName: tableName, AttributeDefinitions: wanted.AttributeDefinitions, GlobalSecondaryIndexUpdates: [{ Create: index }] }));
    await untilActive(client, tableName, index.IndexName);
    indexesAdded.push(index.IndexName);
  }
  return { indexesAdded, itemsOwned, streamEnabled };
}

/** Wait (up to 60 s) until the table's index `indexName` is ACTIVE. */
async function untilActive(client: DynamoDBDocumentClient, tableName: string, indexName: string): Promise<void> {
  const started = performance.now();
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const status = Table?.GlobalSecondaryIndexes?.find((index) => index.IndexName === indexName)?.IndexStatus;
    if (status === 'ACTIVE') return;
    if (performance.now() - started > 60_000) throw new Error(`Index '${indexName}' of table '${tableName}' is still ${status ?? 'missing'} after 60 s.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
