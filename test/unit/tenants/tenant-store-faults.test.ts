/**
 * The tenant store when DynamoDB answers something other than a failed condition (aws-sdk-client-mock): the
 * error reaches the caller as it is (a 500 or a retry, never a misleading 4xx), and a cursor DynamoDB cannot
 * use is the caller's INVALID_CURSOR.
 */
import { DynamoDBClient, InternalServerError, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { InvalidCursorError, OperationOwnershipError } from '../../../functions/tenants/errors';
import { TenantStore, type Tenant } from '../../../functions/tenants/tenant-store';

const dynamo = mockClient(DynamoDBDocumentClient);
const store = new TenantStore({ client: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), tableName: 'lifecycle', now: () => new Date('2026-11-29T00:00:00.000Z') });
const serverFault = () => new InternalServerError({ message: 'Internal server error', $metadata: {} });
const tenant: Tenant = {
  tenantId: 'acme',
  name: 'Acme',
  email: 'ops@acme.example',
  plan: 'starter',
  state: 'active',
  usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 },
  version: 3,
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  stateChangedAt: '2026-11-01T00:00:00.000Z',
};

beforeEach(() => dynamo.reset());
afterAll(() => dynamo.restore());

describe('Class: TenantStore (DynamoDB faults)', () => {
  it('should pass a server fault of a create, a transition and a usage report through unchanged', async () => {
    const fault = serverFault();
    dynamo.on(TransactWriteCommand).rejects(fault);
    dynamo.on(UpdateCommand).rejects(fault);

    await expect(store.create({ tenantId: 'acme', name: 'Acme', email: 'ops@acme.example', plan: 'starter', usage: tenant.usage }, { actor: 'op' })).rejects.toBe(fault);
    await expect(store.applyTransition(tenant, 'suspend', { actor: 'op' })).rejects.toBe(fault);
    await expect(store.reportUsage('acme', tenant.usage, '2026-11-29T00:00:00.000Z')).rejects.toBe(fault);
  });

  it('should pass a transaction cancelled for another reason than its condition through unchanged', async () => {
    const conflict = new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }] });
    dynamo.on(TransactWriteCommand).rejects(conflict);

    await expect(store.applyTransition(tenant, 'suspend', { actor: 'op' })).rejects.toBe(conflict);
    await expect(store.create({ tenantId: 'acme', name: 'Acme', email: 'ops@acme.example', plan: 'starter', usage: tenant.usage }, { actor: 'op' })).rejects.toBe(conflict);
  });

  it('should name "none" as the owner when a read-only window is asked of a tenant no operation owns', async () => {
    const refused = store.startReadOnlyWindow(tenant, 'draining', { actor: 'op', operationId: 'op_1' });

    await expect(refused).rejects.toBeInstanceOf(OperationOwnershipError);
    await expect(refused).rejects.toThrow(/'active', owned by operation 'none'/);
    expect(dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it('should answer INVALID_CURSOR when DynamoDB refuses the start key a cursor gave, and pass other query errors through', async () => {
    const refusedKey = Object.assign(new Error('The provided starting key is invalid'), { name: 'ValidationException' });
    dynamo.on(QueryCommand).rejects(refusedKey);
    const cursor = Buffer.from(JSON.stringify({ state: 'active', after: { tenantId: 'acme', stateChangedAt: '2026-11-01T00:00:00.000Z' } })).toString('base64url');

    await expect(store.listByState('active', { cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(store.listByState('active')).rejects.toBe(refusedKey);
  });
});
