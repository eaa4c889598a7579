/**
 * How the sweeper and the local scheduler read a byState partition: the key condition for each bound, paging
 * with ExclusiveStartKey, and a limit that stops the reading (a sweep takes a batch, never the whole backlog).
 * The requests are asserted as DynamoDB receives them.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { queryByStatePartition } from '../../../functions/shared/by-state-index';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }));
const dynamo = mockClient(DynamoDBDocumentClient);
const item = (n: number) => ({ pk: `OP#${n}`, sk: 'OPERATION', state: 'OPERATION#running', stateChangedAt: `2026-11-0${n}T00:00:00.000Z` });
const key = (n: number) => ({ pk: `OP#${n}`, sk: 'OPERATION' });

beforeEach(() => dynamo.reset());

describe('queryByStatePartition', () => {
  it('should read every page of the whole partition when no bound is given', async () => {
    dynamo.on(QueryCommand).resolvesOnce({ Items: [item(1), item(2)], LastEvaluatedKey: key(2) }).resolvesOnce({ Items: [item(3)] });

    const items = await queryByStatePartition(client, 'lifecycle', 'SCHEDULE#due');

    expect(items).toEqual([item(1), item(2), item(3)]);
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: 'lifecycle', IndexName: 'byState', KeyConditionExpression: '#state = :partition', ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: { ':partition': 'SCHEDULE#due' }, ExclusiveStartKey: undefined },
      { TableName: 'lifecycle', IndexName: 'byState', KeyConditionExpression: '#state = :partition', ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: { ':partition': 'SCHEDULE#due' }, ExclusiveStartKey: key(2) },
    ]);
  });

  it('should include the bound itself with atMost (what is due by now)', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [item(1)] });

    await queryByStatePartition(client, 'lifecycle', 'SCHEDULE#due', { atMost: '2026-11-05T00:00:00.000Z' });

    expect(dynamo).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: '#state = :partition AND #since <= :bound',
      ExpressionAttributeNames: { '#state': 'state', '#since': 'stateChangedAt' },
      ExpressionAttributeValues: { ':partition': 'SCHEDULE#due', ':bound': '2026-11-05T00:00:00.000Z' },
    });
  });

  it('should stop at the limit, oldest first, asking each page only for what is still missing, even when more pages remain', async () => {
    dynamo.on(QueryCommand).resolvesOnce({ Items: [item(1), item(2)], LastEvaluatedKey: key(2) }).resolvesOnce({ Items: [item(3)], LastEvaluatedKey: key(3) });

    const items = await queryByStatePartition(client, 'lifecycle', 'OPERATION#running', { below: '2026-11-09T00:00:00.000Z', limit: 3 });

    expect(items).toEqual([item(1), item(2), item(3)]);
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 2);
    const inputs = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(inputs.map((input) => input.Limit)).toEqual([3, 1]);
    expect(inputs[0]).toMatchObject({ KeyConditionExpression: '#state = :partition AND #since < :bound', ExpressionAttributeValues: { ':partition': 'OPERATION#running', ':bound': '2026-11-09T00:00:00.000Z' } });
  });
});
