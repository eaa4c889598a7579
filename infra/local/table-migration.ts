/**
 * Bring a table kept in the local stack's data folder by an older version up to the key design of
 * functions/tenants/tenant-table.ts: add the indexes it lacks (UpdateTable, one at a time as DynamoDB requires),
 * and put `ownerTenantId` on the items of partitions of their own written before the byTenant index existed
 * (operations by their `tenantId`, local schedules by their payload's), so export and hard delete find them.
 * Local only: on AWS, CloudFormation adds the index (see README, "Upgrading").
 */
import { DescribeTableCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BY_TENANT_INDEX, createTableInput } from '../../functions/tenants/tenant-table';

/** What was done: the indexes added and the items given an owner. */
export interface MigrationResult {
  readonly indexesAdded: string[];
  readonly itemsOwned: number;
}

export async function migrateTable(client: DynamoDBDocumentClient, tableName: string): Promise<MigrationResult> {
  const wanted = createTableInput(tableName);
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const indexesAdded: string[] = [];
  for (const index of wanted.GlobalSecondaryIndexes.filter((candidate) => !present.has(candidate.IndexName))) {
    await client.send(new UpdateTableCommand({ TableName: tableName, AttributeDefinitions: wanted.AttributeDefinitions, GlobalSecondaryIndexUpdates: [{ Create: index }] }));
    indexesAdded.push(index.IndexName);
  }
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
  return { indexesAdded, itemsOwned };
}
