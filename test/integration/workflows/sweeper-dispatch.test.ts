/**
 * The sweeper compensates every stuck operation with its own workflow's compensation (issue 8, "Must show"):
 * a stuck export and a stuck plan change, swept together, each the real workflow (the export's compensation
 * fails it: `fail_export` back to the state the tenant came from, its partial parts deleted from the export
 * bucket; the plan change's rolls it back). Against DynamoDB Local and the local S3 server. A small test-only
 * workflow with a longer limit shows each workflow's own limit is used.
 */
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ExportRequestInput } from '../../../functions/export/export-request';
import { exportPrefix } from '../../../functions/export/export-steps';
import { EXPORT_WORKFLOW } from '../../../functions/export/export-definition';
import { config } from '../../../functions/shared/config';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import type { PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import type { WorkflowPorts } from '../../../functions/workflows/ports';
import type { WorkflowName } from '../../../functions/workflows/registry';
import { STUCK_AFTER_SECONDS, sweepStuckOperations } from '../../../functions/workflows/sweep-stuck-operations';
import type { StepFailure, WorkflowDefinition, WorkflowInput, WorkflowSteps } from '../../../functions/workflows/workflow-definition';
import { registerWorkflow } from '../../../functions/workflows/workflow-steps';
import { ApiHarness } from '../../support/api-harness';

type Body = Record<string, unknown>;
interface HistoryEntry {
  readonly event: string;
  readonly from: string;
  readonly to: string;
  readonly operationId?: string;
}

const api = new ApiHarness();
// The real export's compensation deletes its partial parts: its buckets on the local S3 server (which accepts only its own access key).
const exportsBucket = `exports-${config.tableName.slice(-8)}`;
process.env.EXPORTS_BUCKET = exportsBucket;
process.env.DOCUMENTS_BUCKET = `docs-${config.tableName.slice(-8)}`;
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const PLAN_OP = `op_${randomUUID()}`;
const EXPORT_OP = `op_${randomUUID()}`;
const LONG_OP = `op_${randomUUID()}`;
const ports = (): WorkflowPorts => planChangeDependencies();

/** A second workflow: an export that holds its tenant `exporting` and, compensated, puts it back with fail_export. */
const TEST_EXPORT: WorkflowDefinition = {
  name: 'test-export',
  title: 'test export',
  description: 'A second workflow, for the sweeper test only.',
  asl: 'statemachines/test-export.asl.json',
  taskFunctionPlaceholder: 'TestExportTaskFunctionArn',
  events: { initiates: ['initiate_export'], completes: ['complete_export'], rollsBackWith: ['fail_export'] },
  scheduleTargets: [],
  timeoutSeconds: 600,
  stuckAfterSeconds: 20 * 60,
  taskTimeoutSeconds: 60,
};
const exportCompensations: Array<{ input: WorkflowInput; failure: StepFailure }> = [];
const testExportSteps: WorkflowSteps<WorkflowPorts, WorkflowInput> = {
  steps: ['compensate'],
  endingSteps: ['compensate'],
  run: async () => ({}),
  compensate: async (deps, input, failure) => {
    exportCompensations.push({ input, failure });
    const claimed = await deps.operations.beginCompensation(input.operationId);
    if (!claimed) return { outcome: 'not_claimed' };
    const tenant = await deps.tenants.get(input.tenantId);
    await deps.tenants.applyTransition(
      tenant,
      'fail_export',
      { actor: 'test-export', reason: `Export failed: ${failure.Error}`, operationId: input.operationId },
      { alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'rolled_back', 'compensating', { code: failure.Error, message: failure.Cause ?? '' })] },
    );
    return { outcome: 'rolled_back' };
  },
};

let unregister: (() => void) | undefined;
beforeAll(async () => {
  await api.start();
  for (const bucket of [exportsBucket, process.env.DOCUMENTS_BUCKET as string]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  unregister = registerWorkflow(TEST_EXPORT, testExportSteps);
});
afterAll(async () => {
  unregister?.();
  await api.stop();
  s3.destroy();
});

const context = (operationId: string) => ({ actor: 'operator:test', reason: 'started, then its process died', operationId });

async function history(tenantId: string): Promise<HistoryEntry[]> {
  return (await api.request<{ items: HistoryEntry[] }>('GET', `/tenants/${tenantId}/history?limit=20`)).body.items;
}

describe('Sweeper: each stuck operation compensated by its own workflow', () => {
  it('should roll back a stuck plan change as a plan change and a stuck export as an export, in one sweep', async () => {
    // Prepare: two tenants, each left mid-operation (initiated, its execution never started)
    const operations = ports().operations;
    const planTenant = await api.store.create({ tenantId: 'sweep-plan', name: 'Sweep Plan', email: 'ops@sweep-plan.test', plan: 'starter', usage: { users: 1, storageGb: 1, apiCallsPerMonth: 10, vectorCount: 0 } as never }, context('create-plan'));
    const exportTenant = await api.store.create({ tenantId: 'sweep-export', name: 'Sweep Export', email: 'ops@sweep-export.test', plan: 'starter', usage: { users: 1, storageGb: 1, apiCallsPerMonth: 10, vectorCount: 0 } as never }, context('create-export'));
    const planInput: PlanChangeInput = {
      operationId: PLAN_OP,
      tenantId: 'sweep-plan',
      direction: 'upgrade',
      fromPlan: 'starter',
      toPlan: 'professional',
      timing: 'immediately',
      drainTimeoutSeconds: 30,
      requestedBy: 'operator:test',
    };
    await api.store.applyTransition(planTenant, 'initiate_upgrade', context(planInput.operationId), {
      alsoPut: [operations.newItem({ operationId: planInput.operationId, tenantId: 'sweep-plan', workflow: 'plan-change', input: { ...planInput }, requestedBy: 'operator:test' })],
    });
    const exportInput: ExportRequestInput = { operationId: EXPORT_OP, tenantId: 'sweep-export', requestedBy: 'operator:test', requestedAt: new Date().toISOString(), dueAt: new Date(Date.now() + 30 * 86_400_000).toISOString() };
    await api.store.applyTransition(await api.store.applyTransition(exportTenant, 'suspend', context('suspend')), 'initiate_export', context(exportInput.operationId), {
      alsoPut: [operations.newItem({ operationId: EXPORT_OP, tenantId: 'sweep-export', workflow: 'export', input: { ...exportInput }, requestedBy: 'operator:test' })],
    });
    // Its process died after writing a part: personal data with no use, to be deleted by the compensation.
    await s3.send(new PutObjectCommand({ Bucket: exportsBucket, Key: `${exportPrefix(exportInput)}/documents/part-00001.ndjson.gz`, Body: 'partial' }));
    await operations.recordStep(EXPORT_OP, 'counted:documents', { 'progress:documents': { expected: 10, exported: 0 } });

    // Act: one sweep, later than both workflows' limits (the export's is the longer: a day and a half hour)
    const result = await sweepStuckOperations(ports(), { now: new Date(Date.now() + (Math.max(STUCK_AFTER_SECONDS, EXPORT_WORKFLOW.stuckAfterSeconds) + 60) * 1000) });

    // Assess: both compensated, each its own way
    expect({ compensated: [...result.compensated].sort(), failed: result.failed }).toEqual({ compensated: [EXPORT_OP, PLAN_OP].sort(), failed: [] });
    expect((await api.request<Body>('GET', '/tenants/sweep-plan')).body).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await history('sweep-plan'))[0]).toMatchObject({ event: 'rollback_upgrade', from: 'upgrading', to: 'active', operationId: PLAN_OP });
    expect((await api.request<Body>('GET', '/tenants/sweep-export')).body).toMatchObject({ state: 'suspended', plan: 'starter' });
    expect((await history('sweep-export'))[0]).toMatchObject({ event: 'fail_export', from: 'exporting', to: 'suspended', operationId: EXPORT_OP });
    expect((await s3.send(new ListObjectsV2Command({ Bucket: exportsBucket, Prefix: `${exportPrefix(exportInput)}/` }))).KeyCount ?? 0).toBe(0);
    expect((await api.request<Body>('GET', `/operations/${PLAN_OP}`)).body).toMatchObject({ workflow: 'plan-change', status: 'rolled_back', error: { code: 'OperationStuck' } });
    expect((await api.request<Body>('GET', `/operations/${EXPORT_OP}`)).body).toMatchObject({ workflow: 'export', status: 'failed', error: { code: 'OperationStuck' } });
    expect((await api.request<Body>('GET', `/exports/${EXPORT_OP}`)).body).toMatchObject({ status: 'failed', error: { code: 'OperationStuck' }, sources: [{ source: 'documents', expected: 10, exported: 0 }] });
  });

  it("should leave an operation alone until its own workflow's limit has passed", async () => {
    // Prepare: a test-export operation (limit 20 minutes) and a sweep 10 minutes after it started, with a longer-lived workflow registered
    const longer = registerWorkflow({ ...TEST_EXPORT, name: 'test-long', title: 'test long', stuckAfterSeconds: 2 * 60 * 60 }, testExportSteps);
    try {
      const operations = ports().operations;
      const tenant = await api.store.create({ tenantId: 'sweep-long', name: 'Sweep Long', email: 'ops@sweep-long.test', plan: 'starter', usage: { users: 1, storageGb: 1, apiCallsPerMonth: 10, vectorCount: 0 } as never }, context('create-long'));
      await api.store.applyTransition(tenant, 'initiate_export', context(LONG_OP), {
        alsoPut: [operations.newItem({ operationId: LONG_OP, tenantId: 'sweep-long', workflow: 'test-long' as WorkflowName, input: { operationId: LONG_OP, tenantId: 'sweep-long' }, requestedBy: 'operator:test' })],
      });

      // Act: past the plan change's limit, before this workflow's own
      const early = await sweepStuckOperations(ports(), { now: new Date(Date.now() + (STUCK_AFTER_SECONDS + 60) * 1000) });
      const late = await sweepStuckOperations(ports(), { now: new Date(Date.now() + (2 * 60 * 60 + 60) * 1000) });

      // Assess
      expect(early.compensated).not.toContain(LONG_OP);
      expect(late.compensated).toContain(LONG_OP);
      expect((await api.request<Body>('GET', '/tenants/sweep-long')).body).toMatchObject({ state: 'active' });
    } finally {
      longer();
    }
  });
});
