/**
 * Export steps when the tenant is not (or no longer) owned by the export that calls them: a second export
 * while one runs is refused, an export whose tenant was taken over stops and fails without touching the
 * tenant, and a retried initiate racing the first ends with one initiate (DynamoDB Local, real stores).
 */
import { PutCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { runExportStep, type ExportDependencies, type ExportInput } from '../../../functions/export/export-steps';
import { OperationStore } from '../../../functions/operations/operation-store';
import { EMPTY_USAGE } from '../../../functions/plans/plan-catalog';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { memorySource } from '../../support/test-data-sources';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const operations = new OperationStore({ client, tableName: config.tableName });
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `own-${config.tableName.slice(-8)}`;
const deps: ExportDependencies = { tenants, operations, sources: [memorySource('usage', {})], s3, bucket };

const exportOf = (tenantId: string, n: number): ExportInput => ({ operationId: `exp_${tenantId}_${n}`, tenantId, requestedBy: 'operator:test', requestedAt: '2026-11-29T23:00:00.000Z' });

async function create(tenantId: string): Promise<void> {
  await tenants.create({ tenantId, name: tenantId, email: `a@${tenantId}.example`, plan: 'starter', usage: EMPTY_USAGE }, { actor: 'test' });
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());

describe('Export steps: a tenant owned by another export', () => {
  it('should refuse to initiate a second export while one runs (ExportNotAllowedError), writing no operation', async () => {
    await create('own-a');
    await runExportStep(deps, { step: 'initiate', operation: exportOf('own-a', 1) });
    const before = await tenants.get('own-a');
    await expect(runExportStep(deps, { step: 'initiate', operation: exportOf('own-a', 2) })).rejects.toMatchObject({ name: 'ExportNotAllowedError' });
    expect(await tenants.get('own-a')).toMatchObject({ version: before.version, operationId: 'exp_own-a_1' });
    expect(await operations.find('exp_own-a_2')).toBeUndefined();
  });

  it('should stop an export whose running operation no longer owns the tenant, and fail it leaving the owner alone', async () => {
    await create('own-b');
    await runExportStep(deps, { step: 'initiate', operation: exportOf('own-b', 1) });
    // Export 2's record was written (as the API does) but the tenant belongs to export 1.
    const second = exportOf('own-b', 2);
    await client.send(new PutCommand({ TableName: config.tableName, Item: operations.newItem({ ...second, workflow: 'export', input: { ...second } }) }));
    await expect(runExportStep(deps, { step: 'initiate', operation: second })).rejects.toMatchObject({ name: 'OperationSupersededError', message: expect.stringContaining("no longer owned by export 'exp_own-b_2'") });
    const owner = await tenants.get('own-b');
    expect(await runExportStep(deps, { step: 'failExport', operation: second, failure: { Error: 'OperationSupersededError', Cause: 'taken over' } })).toEqual({ outcome: 'failed' });
    expect(await operations.get('exp_own-b_2')).toMatchObject({ status: 'failed', error: { code: 'OperationSupersededError' } });
    expect(await tenants.get('own-b')).toMatchObject({ version: owner.version, operationId: 'exp_own-b_1' });
    expect((await operations.get('exp_own-b_1')).status).toBe('running');
  });

  it('should initiate once when a retried initiate races the first (one wins, the other reads it back)', async () => {
    // Several races: the loser may read before, between or after the winner's writes.
    for (const tenantId of ['own-c1', 'own-c2', 'own-c3', 'own-c4', 'own-c5']) {
      await create(tenantId);
      const before = await tenants.get(tenantId);
      const input = exportOf(tenantId, 1);
      const answers = await Promise.all([runExportStep(deps, { step: 'initiate', operation: input }), runExportStep(deps, { step: 'initiate', operation: input })]);
      expect(answers).toEqual([{ sources: ['usage'] }, { sources: ['usage'] }]);
      expect(await tenants.get(tenantId)).toMatchObject({ version: before.version + 1, operationId: input.operationId });
      expect((await operations.get(input.operationId)).status).toBe('running');
    }
  });

  it('should turn DynamoDB throttling of the initiate into StoreContentionError (retried by the ASL), leaving the tenant alone', async () => {
    await create('own-d');
    const before = await tenants.get('own-d');
    // The real table, except that every transaction is throttled.
    const throttled = {
      send: (command: unknown) =>
        command instanceof TransactWriteCommand
          ? Promise.reject(Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), { name: 'ThrottlingException' }))
          : client.send(command as never),
    } as unknown as DynamoDBDocumentClient;
    const throttledTenants = new TenantStore({ client: throttled, tableName: config.tableName });
    await expect(runExportStep({ ...deps, tenants: throttledTenants }, { step: 'initiate', operation: exportOf('own-d', 1) })).rejects.toMatchObject({
      name: 'StoreContentionError',
      message: expect.stringContaining('DynamoDB contention in initiate'),
    });
    expect(await tenants.get('own-d')).toMatchObject({ version: before.version, state: before.state });
    expect(await operations.find('exp_own-d_1')).toBeUndefined();
  });
});
