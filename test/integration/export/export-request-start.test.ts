/**
 * Starting an export through requestExport when the workflow cannot be started (Step Functions down): the
 * request answers 503 WORKFLOW_UNAVAILABLE and leaves the tenant as it was, the export recorded failed
 * (DynamoDB Local, real stores; the runner is the only stand-in).
 */
import { ExportRequestError, requestExport } from '../../../functions/export/export-request';
import { OperationStore } from '../../../functions/operations/operation-store';
import { EMPTY_USAGE } from '../../../functions/plans/plan-catalog';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import type { WorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const operations = new OperationStore({ client, tableName: config.tableName });
const now = () => new Date('2026-01-31T08:00:00.000Z');

async function create(tenantId: string): Promise<void> {
  await tenants.create({ tenantId, name: tenantId, email: `a@${tenantId}.example`, plan: 'starter', usage: EMPTY_USAGE }, { actor: 'test' });
}

describe('Function: requestExport when the workflow cannot start', () => {
  it('should answer 503 WORKFLOW_UNAVAILABLE, put the tenant back and record the export failed', async () => {
    await create('rs-a');
    const before = await tenants.get('rs-a');
    const starts: string[] = [];
    const runner: WorkflowRunner = {
      start: async (workflow, executionName) => {
        starts.push(`${workflow}:${executionName}`);
        throw new Error('Rate exceeded');
      },
    };
    const failure = requestExport({ tenants, operations, runner, now }, 'rs-a', {}, 'operator:test');
    await expect(failure).rejects.toBeInstanceOf(ExportRequestError);
    await expect(failure).rejects.toMatchObject({ code: 'WORKFLOW_UNAVAILABLE' });
    expect(new Set(starts).size).toBe(1);
    const operationId = starts[0]!.split(':')[1]!;
    const after = await tenants.get('rs-a');
    expect(after.state).toBe(before.state);
    expect(after.operationId).toBeUndefined();
    expect(await operations.get(operationId)).toMatchObject({
      status: 'failed',
      error: { code: 'WorkflowStartFailed', message: expect.stringContaining('Rate exceeded') },
      input: { requestedAt: '2026-01-31T08:00:00.000Z', dueAt: '2026-02-28T08:00:00.000Z' },
    });
  });

  it('should record the export failed without touching the tenant when it no longer owns it', async () => {
    await create('rs-b');
    let operationId: string | undefined;
    let releasedVersion: number | undefined;
    const runner: WorkflowRunner = {
      start: async (_workflow, executionName) => {
        // Another actor ends the export's hold on the tenant before the start gives up.
        if (!operationId) {
          operationId = executionName;
          await tenants.applyTransition(await tenants.get('rs-b'), 'fail_export', { actor: 'operator:other', reason: 'released', operationId: executionName });
          releasedVersion = (await tenants.get('rs-b')).version;
        }
        throw new Error('Rate exceeded');
      },
    };
    await expect(requestExport({ tenants, operations, runner, now }, 'rs-b', {}, 'operator:test')).rejects.toMatchObject({ code: 'WORKFLOW_UNAVAILABLE' });
    const after = await tenants.get('rs-b');
    expect(after).toMatchObject({ state: 'active', version: releasedVersion });
    expect(after.operationId).toBeUndefined();
    expect(await operations.get(operationId!)).toMatchObject({ status: 'failed', error: { code: 'WorkflowStartFailed' } });
  });
});
