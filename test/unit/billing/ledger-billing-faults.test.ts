/**
 * The ledger's DynamoDB requests (aws-sdk-client-mock): a server fault or an error the SDK marks retryable is a BillingTransientError
 * (the workflow step retries, the API answers 503), anything else is thrown as it is.
 */
import { DynamoDBClient, InternalServerError, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BillingTransientError, type PlanChangeRequest } from '../../../functions/billing/billing-port';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';

const dynamo = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const ledger = new LedgerBilling({ client, tableName: 'lifecycle', now: () => new Date('2026-11-11T00:00:00.000Z') });
const upgrade: PlanChangeRequest = { operationId: 'op_1', tenantId: 'acme', fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately' };

beforeEach(() => dynamo.reset());
afterAll(() => dynamo.restore());

describe('Class: LedgerBilling (DynamoDB faults)', () => {
  it.each([
    ['a server fault', new InternalServerError({ message: 'Internal server error', $metadata: {} })],
    ['an error the SDK marks retryable', Object.assign(new Error('Slow down'), { name: 'SlowDown', $fault: 'client', $retryable: { throttling: true } })],
  ])('should turn %s into BillingTransientError naming it', async (_, fault) => {
    dynamo.on(GetCommand).rejects(fault);
    dynamo.on(PutCommand).rejects(fault);

    const applied = ledger.applyPlanChange(upgrade);

    await expect(applied).rejects.toBeInstanceOf(BillingTransientError);
    await expect(applied).rejects.toThrow(`The billing ledger is unavailable: ${fault.name}`);
  });

  it('should turn a server fault while reading the tenant’s ledger into BillingTransientError, after the pages before it', async () => {
    const fault = new InternalServerError({ message: 'Internal server error', $metadata: {} });
    dynamo.on(QueryCommand).resolvesOnce({ Items: [], LastEvaluatedKey: { pk: 'TENANT#acme', sk: 'LEDGER#op_0#charge' } }).rejectsOnce(fault);

    const balance = ledger.balance('acme');

    await expect(balance).rejects.toBeInstanceOf(BillingTransientError);
    await expect(balance).rejects.toThrow('The billing ledger is unavailable: InternalServerError');
    expect(dynamo).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(dynamo).toHaveReceivedNthCommandWith(2, QueryCommand, { ExclusiveStartKey: { pk: 'TENANT#acme', sk: 'LEDGER#op_0#charge' } });
  });

  it('should turn a server fault while reading back an operation’s entry into BillingTransientError', async () => {
    dynamo.on(GetCommand).rejects(new InternalServerError({ message: 'Internal server error', $metadata: {} }));

    const found = ledger.findAppliedChange(upgrade);

    await expect(found).rejects.toBeInstanceOf(BillingTransientError);
    await expect(found).rejects.toThrow('The billing ledger is unavailable: InternalServerError');
    expect(dynamo).toHaveReceivedCommandWith(GetCommand, { TableName: 'lifecycle', Key: { pk: 'TENANT#acme', sk: expect.stringContaining('op_1') }, ConsistentRead: true });
  });

  it('should throw a client error (a missing table) as it is', async () => {
    const missing = new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} });
    dynamo.on(GetCommand).rejects(missing);
    dynamo.on(PutCommand).rejects(missing);
    await expect(ledger.applyPlanChange(upgrade)).rejects.toBe(missing);
  });

  it('should write the charge once, conditionally, under the tenant and operation', async () => {
    dynamo.on(GetCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    dynamo.on(QueryCommand).resolves({ Items: [] });

    await ledger.applyPlanChange(upgrade);

    expect(dynamo).toHaveReceivedCommandWith(PutCommand, {
      TableName: 'lifecycle',
      ConditionExpression: 'attribute_not_exists(pk)',
      Item: expect.objectContaining({ pk: 'TENANT#acme', sk: expect.stringContaining('op_1'), type: 'ledger', kind: 'charge', tenantId: 'acme' }),
    });
  });
});

describe('Class: LedgerBilling (a change to the same plan)', () => {
  const samePlan: PlanChangeRequest = { ...upgrade, toPlan: 'starter' };

  it('should preview nothing due, find nothing applied and revert nothing, without a DynamoDB request', async () => {
    const preview = await ledger.previewPlanChange(samePlan);
    const found = await ledger.findAppliedChange(samePlan);
    await ledger.revertPlanChange(samePlan, { kind: 'no_change', effectiveAt: '2026-11-11T00:00:00.000Z', amountInvoiced: 0, currency: 'usd', references: {} });

    expect(preview).toEqual({ source: 'local-estimate', currency: 'usd', amountDueNow: 0, effectiveAt: '2026-11-11T00:00:00.000Z', lines: [] });
    expect(found).toBeUndefined();
    expect(dynamo.calls()).toHaveLength(0);
  });
});
