/**
 * The sweeper compensates every stuck operation with its own workflow's compensation (issue 8, "Must show"):
 * a stuck operation of a second workflow and a stuck plan change, swept together. The second workflow is a
 * small export-like one registered for this test through the registry's API (its own registry entry, its own
 * compensation: `fail_export` back to the state the tenant came from); the plan change is the real one. Both
 * run against DynamoDB Local.
 */
import { randomUUID } from 'node:crypto';
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
  unregister = registerWorkflow(TEST_EXPORT, testExportSteps);
});
afterAll(async () => {
  unregister?.();
  await api.stop();
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
    const exportInput = { operationId: EXPORT_OP, tenantId: 'sweep-export', format: 'ndjson' };
    await api.store.applyTransition(exportTenant, 'initiate_export', context(exportInput.operationId), {
      alsoPut: [operations.newItem({ operationId: exportInput.operationId, tenantId: 'sweep-export', workflow: 'test-export' as WorkflowName, input: exportInput, requestedBy: 'operator:test' })],
    });

    // Act: one sweep, later than both workflows' limits
    const result = await sweepStuckOperations(ports(), { now: new Date(Date.now() + (STUCK_AFTER_SECONDS + 60) * 1000) });

    // Assess: both compensated, each its own way
    expect({ compensated: [...result.compensated].sort(), failed: result.failed }).toEqual({ compensated: [EXPORT_OP, PLAN_OP].sort(), failed: [] });
    expect((await api.request<Body>('GET', '/tenants/sweep-plan')).body).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await history('sweep-plan'))[0]).toMatchObject({ event: 'rollback_upgrade', from: 'upgrading', to: 'active', operationId: PLAN_OP });
    expect((await api.request<Body>('GET', '/tenants/sweep-export')).body).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await history('sweep-export'))[0]).toMatchObject({ event: 'fail_export', from: 'exporting', to: 'active', operationId: EXPORT_OP });
    expect(exportCompensations.map(({ input, failure }) => [input.operationId, failure.Error])).toEqual([[EXPORT_OP, 'OperationStuck']]);
    expect((await api.request<Body>('GET', `/operations/${PLAN_OP}`)).body).toMatchObject({ workflow: 'plan-change', status: 'rolled_back', error: { code: 'OperationStuck' } });
    expect((await api.request<Body>('GET', `/operations/${EXPORT_OP}`)).body).toMatchObject({ workflow: 'test-export', status: 'rolled_back', error: { code: 'OperationStuck' } });
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
