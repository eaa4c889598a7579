/**
 * Edge answers of the usage, operations and billing-history sources (DynamoDB asserted with aws-sdk-client-mock;
 * billing through a BillingPort double): usage without a measurement time, no usage at all, a purge failure that
 * is not "nothing there"; schedule scans whose pages hold no Items; a billing provider that claims more invoices
 * on an empty page.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { BillingInvoice, BillingPort, InvoiceListRequest, InvoicePage } from '../../../functions/billing/billing-port';
import { BillingHistorySource } from '../../../functions/data-sources/billing-history-source';
import { OperationsSource } from '../../../functions/data-sources/operations-source';
import { UsageSource } from '../../../functions/data-sources/usage-source';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

beforeEach(() => dynamo.reset());

it('should export usage given at sign-up (no usageMeasuredAt) without measuredAt', async () => {
  dynamo.on(GetCommand).resolves({ Item: { usage: { seats: 3, storageBytes: 1024 } } });
  const page = await new UsageSource({ client, tableName: 't' }).exportPage('acme', null, 10);
  expect(page).toEqual({ records: [{ seats: 3, storageBytes: 1024 }], nextCursor: null });
});

it('should export who reported the usage and how long an operator’s correction held, and purge them with it', async () => {
  dynamo.on(GetCommand).resolves({ Item: { usage: { users: 4 }, usageMeasuredAt: '2026-11-30T10:00:00.000Z', usageReport: { by: 'operator', heldUntil: '2026-11-30T11:00:00.000Z' } } });
  dynamo.on(UpdateCommand).resolves({});
  const source = new UsageSource({ client, tableName: 't' });

  expect((await source.exportPage('acme', null, 10)).records).toEqual([{ users: 4, measuredAt: '2026-11-30T10:00:00.000Z', reportedBy: 'operator', heldUntil: '2026-11-30T11:00:00.000Z' }]);
  expect(await source.purge('acme')).toEqual({ deleted: 1 });
  expect(dynamo).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'REMOVE #usage, usageMeasuredAt, usageReport' });
});

it('should export no usage record for a tenant without usage, and count 0', async () => {
  dynamo.on(GetCommand).resolves({ Item: {} });
  const source = new UsageSource({ client, tableName: 't' });
  expect(await source.exportPage('acme', null, 10)).toEqual({ records: [], nextCursor: null });
  expect(await source.count('acme')).toBe(0);
});

it('should report a usage purge with nothing there as 0 deleted, and pass on any other failure', async () => {
  const source = new UsageSource({ client, tableName: 't' });
  dynamo.on(UpdateCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
  expect(await source.purge('acme')).toEqual({ deleted: 0 });

  dynamo.reset();
  dynamo.on(UpdateCommand).rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));
  await expect(source.purge('acme')).rejects.toThrow('Throughput exceeds the current capacity');
});

it("should count the tenant's local schedules and operations left across index pages, erasure records as retained", async () => {
  dynamo
    .on(QueryCommand)
    // the tenant's local schedules: an empty first page, then one
    .resolvesOnce({ LastEvaluatedKey: { pk: 'SCHEDULE#a', sk: 'SCHEDULE', ownerTenantId: 'acme' } })
    .resolvesOnce({ Items: [{ pk: 'SCHEDULE#b', sk: 'SCHEDULE' }] })
    // the tenant's operations: one to erase, one hard delete's erasure record
    .resolvesOnce({ Items: [{ pk: 'OPERATION#op1', sk: 'OPERATION' }, { pk: 'OPERATION#hd1', sk: 'OPERATION', erasureRecord: true }] });

  expect(await new OperationsSource({ client, tableName: 't' }).verifyPurged('acme')).toEqual({ remaining: 2, retained: 1 });
  const queries = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
  expect(queries.map((input) => [input.IndexName, input.ExpressionAttributeValues?.[':owner'], input.ExpressionAttributeValues?.[':pkPrefix'], input.ExclusiveStartKey])).toEqual([
    ['byTenant', 'acme', 'SCHEDULE#', undefined],
    ['byTenant', 'acme', 'SCHEDULE#', { pk: 'SCHEDULE#a', sk: 'SCHEDULE', ownerTenantId: 'acme' }],
    ['byTenant', 'acme', 'OPERATION#', undefined],
  ]);
  expect(dynamo.commandCalls(BatchWriteCommand)).toHaveLength(0);
});

function invoice(id: string): BillingInvoice {
  return { id } as BillingInvoice;
}

it('should stop counting invoices on an empty page even if the provider says it has more', async () => {
  const requests: InvoiceListRequest[] = [];
  const pages: InvoicePage[] = [
    { invoices: [invoice('in_1'), invoice('in_2')], hasMore: true },
    { invoices: [], hasMore: true },
  ];
  const billing = {
    name: 'stripe',
    listInvoices: async (request: InvoiceListRequest) => {
      requests.push(request);
      const page = pages.shift();
      if (!page) throw new Error('listed past the empty page');
      return page;
    },
  } as unknown as BillingPort;

  expect(await new BillingHistorySource({ billing, accountOf: async () => undefined }).count('acme')).toBe(2);
  expect(requests.map((request) => request.startingAfter)).toEqual([undefined, 'in_2']);
});
