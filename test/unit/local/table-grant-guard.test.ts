/**
 * The local stack's IAM stand-in on the lifecycle table (infra/local/table-grant-guard.ts): a call made under a
 * route's grant that the grant does not allow (an action, a partition, an index, one item of a transaction or a
 * batch) is refused before it is sent, with DynamoDB's AccessDeniedException; an allowed one is sent; outside any
 * route's grant (a workflow's steps, the local scheduler) nothing is checked. Requests stop at a last middleware
 * that answers "sent" instead of going to the network.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ROUTES, routeTableGrants } from '../../../functions/api/routes';
import { config } from '../../../functions/shared/config';
import { outsideTableGrant, withTableGrant } from '../../../functions/shared/table-grant-scope';
import { accessRequests, guardTableGrants } from '../../../infra/local/table-grant-guard';

const SENT = 'sent to DynamoDB';
const client = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
client.middlewareStack.add(() => async () => Promise.reject(new Error(SENT)), { step: 'finalizeRequest', priority: 'low', name: 'stopBeforeTheNetwork' });
guardTableGrants(client);
guardTableGrants(client); // a second install adds nothing (the refusal below would otherwise come twice, same result)
const documents = DynamoDBDocumentClient.from(client);
const TableName = config.tableName;

function asRoute<T>(routeId: string, work: () => Promise<T>): Promise<T> {
  const route = ROUTES.find((candidate) => candidate.id === routeId)!;
  return withTableGrant({ principal: `${routeId}Function`, statements: routeTableGrants(route) }, work);
}

const refused = (action: string) => expect.objectContaining({ name: 'AccessDeniedException', $fault: 'client', message: expect.stringContaining(`not authorized to perform: dynamodb:${action}`) });

describe('Local table grant guard', () => {
  it("should send what the route's grant allows: ReleaseQueryLease deleting a lease of a tenant", async () => {
    await expect(asRoute('ReleaseQueryLease', () => documents.send(new DeleteCommand({ TableName, Key: { pk: 'TENANT#acme', sk: 'LEASE#1' } })))).rejects.toThrow(SENT);
  });

  it('should refuse an action the grant lacks, naming it, the table and the route, before anything is sent', async () => {
    const put = asRoute('ReleaseQueryLease', () => documents.send(new PutCommand({ TableName, Item: { pk: 'TENANT#acme', sk: 'LEASE#1' } })));
    await expect(put).rejects.toEqual(refused('PutItem'));
    await expect(put).rejects.toThrow(`assumed-role/ReleaseQueryLeaseFunction/local is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:${config.region}:000000000000:table/${TableName}`);
  });

  it('should refuse an allowed action on a partition outside the grant, and on another table', async () => {
    await expect(asRoute('ReleaseQueryLease', () => documents.send(new DeleteCommand({ TableName, Key: { pk: 'OPERATION#op_1', sk: 'OPERATION' } })))).rejects.toEqual(refused('DeleteItem'));
    await expect(asRoute('ReleaseQueryLease', () => documents.send(new DeleteCommand({ TableName: 'other', Key: { pk: 'TENANT#acme', sk: 'LEASE#1' } })))).rejects.toEqual(refused('DeleteItem'));
    await expect(asRoute('GetTenant', () => documents.send(new UpdateCommand({ TableName, Key: { pk: 'TENANT#acme', sk: 'TENANT' }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': 1 } })))).rejects.toEqual(refused('UpdateItem'));
  });

  it('should give every authenticated route UpdateItem on its rate-limit bucket and nothing else there', async () => {
    const bucket = { TableName, Key: { pk: 'RATE_LIMIT#user@acme', sk: 'BUCKET' } };
    await expect(asRoute('CheckAccess', () => documents.send(new UpdateCommand({ ...bucket, UpdateExpression: 'SET t = :t', ExpressionAttributeValues: { ':t': 1 } })))).rejects.toThrow(SENT);
    await expect(asRoute('CheckAccess', () => documents.send(new GetCommand(bucket)))).rejects.toEqual(refused('GetItem'));
  });

  it('should refuse a transaction when one of its items is outside the grant', async () => {
    const check = { ConditionCheck: { TableName, Key: { pk: 'TENANT#acme', sk: 'TENANT' }, ConditionExpression: 'attribute_exists(pk)' } };
    const lease = { Put: { TableName, Item: { pk: 'TENANT#acme', sk: 'LEASE#2' } } };
    await expect(asRoute('AcquireQueryLease', () => documents.send(new TransactWriteCommand({ TransactItems: [check, lease] })))).rejects.toThrow(SENT);
    const deleteToo = { Delete: { TableName, Key: { pk: 'TENANT#acme', sk: 'LEASE#1' } } };
    await expect(asRoute('AcquireQueryLease', () => documents.send(new TransactWriteCommand({ TransactItems: [check, lease, deleteToo] })))).rejects.toEqual(refused('DeleteItem'));
    await expect(asRoute('GetTenant', () => documents.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName, Key: { pk: 'TENANT#acme', sk: 'TENANT' } } }] })))).rejects.toThrow(SENT);
    await expect(asRoute('GetTenant', () => documents.send(new TransactGetCommand({ TransactItems: [{ Get: { TableName, Key: { pk: 'OPERATION#op_1', sk: 'OPERATION' } } }] })))).rejects.toEqual(refused('GetItem'));
  });

  it('should refuse BatchWriteItem and BatchGetItem to a route not granted them, whatever the partitions', async () => {
    const batch = { RequestItems: { [TableName]: [{ DeleteRequest: { Key: { pk: 'TENANT#acme', sk: 'LEASE#1' } } }, { PutRequest: { Item: { pk: 'TENANT#acme', sk: 'LEASE#3' } } }] } };
    await expect(asRoute('ReleaseQueryLease', () => documents.send(new BatchWriteCommand(batch)))).rejects.toEqual(refused('BatchWriteItem'));
    await expect(asRoute('GetTenant', () => documents.send(new BatchGetCommand({ RequestItems: { [TableName]: { Keys: [{ pk: 'TENANT#acme', sk: 'TENANT' }] } } })))).rejects.toEqual(refused('BatchGetItem'));
  });

  it('should let ListTenants query the byState partitions of tenant states only, and refuse Scan', async () => {
    const byState = (partition: string) =>
      documents.send(new QueryCommand({ TableName, IndexName: 'byState', KeyConditionExpression: '#state = :partition', ExpressionAttributeNames: { '#state': 'state' }, ExpressionAttributeValues: { ':partition': partition } }));
    await expect(asRoute('ListTenants', () => byState('suspended'))).rejects.toThrow(SENT);
    await expect(asRoute('ListTenants', () => byState('operation:unfinished'))).rejects.toEqual(refused('Query'));
    // The same partition value on the table itself, or on the other index: not the granted resource.
    await expect(asRoute('ListTenants', () => documents.send(new QueryCommand({ TableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'active' } })))).rejects.toEqual(refused('Query'));
    await expect(asRoute('ListTenants', () => documents.send(new ScanCommand({ TableName, IndexName: 'byState' })))).rejects.toEqual(refused('Scan'));
  });

  it("should check nothing outside a route's grant, nor in work that leaves it (a workflow, the local scheduler)", async () => {
    const put = () => documents.send(new PutCommand({ TableName, Item: { pk: 'SCHEDULE#x', sk: 'SCHEDULE' } }));
    await expect(put()).rejects.toThrow(SENT);
    await expect(asRoute('GetTenant', () => outsideTableGrant(put))).rejects.toThrow(SENT);
    // Started inside the route's scope, continued after it: still outside (AsyncLocalStorage keeps what started it).
    let later: Promise<unknown> = Promise.resolve();
    await asRoute('GetTenant', async () => {
      later = outsideTableGrant(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return put();
      });
    });
    await expect(later).rejects.toThrow(SENT);
  });
});

describe('accessRequests: what IAM authorizes for a command', () => {
  const S = (value: string) => ({ S: value });

  it('should read a Query partition from its key condition, by attribute name or placeholder name, and from the legacy KeyConditions', () => {
    expect(accessRequests('QueryCommand', { TableName: 't', KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)', ExpressionAttributeValues: { ':pk': S('TENANT#a'), ':p': S('AUDIT#') } })).toEqual([
      { action: 'Query', table: 't', index: undefined, leadingKeys: ['TENANT#a'] },
    ]);
    expect(accessRequests('QueryCommand', { TableName: 't', IndexName: 'byTenant', KeyConditionExpression: '(#o = :o) and begins_with(#pk, :p)', ExpressionAttributeNames: { '#o': 'ownerTenantId', '#pk': 'pk' }, ExpressionAttributeValues: { ':o': S('acme'), ':p': S('OPERATION#') } })).toEqual([
      { action: 'Query', table: 't', index: 'byTenant', leadingKeys: ['acme'] },
    ]);
    expect(accessRequests('QueryCommand', { TableName: 't', KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [S('TENANT#a')] } } })[0]?.leadingKeys).toEqual(['TENANT#a']);
    expect(accessRequests('QueryCommand', { TableName: 't', KeyConditions: { pk: { ComparisonOperator: 'BEGINS_WITH', AttributeValueList: [S('TENANT#')] } } })[0]?.leadingKeys).toEqual([]);
    expect(accessRequests('QueryCommand', { TableName: 't', KeyConditionExpression: 'sk = :sk', ExpressionAttributeValues: { ':sk': S('TENANT') } })[0]?.leadingKeys).toEqual([]);
    expect(accessRequests('QueryCommand', { TableName: 't', IndexName: 'unknown', KeyConditionExpression: 'x = :x', ExpressionAttributeValues: { ':x': S('a') } })[0]?.leadingKeys).toEqual([]);
  });

  it('should take a number key as its text, and a batch of several tables as one request per table', () => {
    expect(accessRequests('GetItemCommand', { TableName: 't', Key: { pk: { N: '7' } } })[0]?.leadingKeys).toEqual(['7']);
    expect(accessRequests('DeleteItemCommand', { TableName: 't', Key: { pk: { B: new Uint8Array([1]) } } })[0]?.leadingKeys).toEqual([]);
    expect(accessRequests('BatchWriteItemCommand', { RequestItems: { a: [{ PutRequest: { Item: { pk: S('X#1') } } }], b: [{ DeleteRequest: { Key: { pk: S('Y#1') } } }] } })).toEqual([
      { action: 'BatchWriteItem', table: 'a', leadingKeys: ['X#1'] },
      { action: 'BatchWriteItem', table: 'b', leadingKeys: ['Y#1'] },
    ]);
    expect(accessRequests('BatchGetItemCommand', { RequestItems: { a: {} } })).toEqual([{ action: 'BatchGetItem', table: 'a', leadingKeys: [] }]);
    expect(accessRequests('BatchWriteItemCommand', {})).toEqual([]);
    expect(accessRequests('TransactWriteItemsCommand', {})).toEqual([]);
    expect(accessRequests('TransactGetItemsCommand', { TransactItems: [{}] })).toEqual([{ action: 'GetItem', table: undefined, leadingKeys: [] }]);
    expect(accessRequests('DescribeTableCommand', { TableName: 't' })).toEqual([{ action: 'DescribeTable', table: 't', leadingKeys: [] }]);
  });
});
