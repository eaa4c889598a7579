/** Reading the lifecycle table's byState index by partition (tenants by state, operations, local schedules). */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BY_STATE_INDEX } from '../tenants/tenant-table';

/**
 * Every item of one byState partition whose sort key is below `below` (or at most `atMost`), oldest first,
 * paging until `limit` items: how the sweeper finds operations and the local scheduler due schedules.
 */
export async function queryByStatePartition<T>(
  client: DynamoDBDocumentClient,
  tableName: string,
  partition: string,
  bound: { readonly below?: string; readonly atMost?: string; readonly limit?: number } = {},
): Promise<T[]> {
  const items: T[] = [];
  const limit = bound.limit ?? Number.POSITIVE_INFINITY;
  const [operator, value] = bound.below !== undefined ? ['<', bound.below] : bound.atMost !== undefined ? ['<=', bound.atMost] : [undefined, undefined];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: BY_STATE_INDEX.name,
        KeyConditionExpression: operator ? `#state = :partition AND #since ${operator} :bound` : '#state = :partition',
        ExpressionAttributeNames: { '#state': BY_STATE_INDEX.partitionKey, ...(operator ? { '#since': BY_STATE_INDEX.sortKey } : {}) },
        ExpressionAttributeValues: { ':partition': partition, ...(operator ? { ':bound': value } : {}) },
        ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...((page.Items ?? []) as T[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey && items.length < limit);
  return items;
}
