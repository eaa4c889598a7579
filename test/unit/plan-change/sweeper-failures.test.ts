/**
 * The sweeper when its own work fails (the Sweeper function, every 10 minutes on AWS): one operation it cannot
 * compensate or start must not stop it from sweeping the others, must be logged with its operation and tenant,
 * and must make the invocation fail, so that the function's error alarm pages someone. The steps are stand-ins
 * here (the sweeper's real work runs against DynamoDB Local in test/integration/plan-change); what is asserted
 * is what it does with their failures.
 */
import '../../support/log-level-info';
import type { Operation } from '../../../functions/operations/operation-store';
import { captureLogs } from '../../support/captured-logs';

const stuck = [
  { operationId: 'op_stuck_1', workflow: 'plan-change', tenantId: 'acme', status: 'running', input: { operationId: 'op_stuck_1', workflow: 'plan-change', tenantId: 'acme' } },
  { operationId: 'op_stuck_2', workflow: 'plan-change', tenantId: 'globex', status: 'compensating', input: { operationId: 'op_stuck_2', workflow: 'plan-change', tenantId: 'globex' } },
] as unknown as Operation[];
const overdue = [
  { operationId: 'op_overdue_1', workflow: 'plan-change', tenantId: 'initech', status: 'scheduled', effectiveAt: '2026-12-01T00:00:00.000Z' },
  { operationId: 'op_overdue_2', workflow: 'plan-change', tenantId: 'umbrella', status: 'scheduled', effectiveAt: '2026-12-01T00:00:00.000Z' },
] as unknown as Operation[];
const unfinishedBefore = jest.fn(async (_before: Date) => stuck);
const scheduledDueBefore = jest.fn(async (_before: Date) => overdue);
const runPlanChangeStep = jest.fn(async (..._args: unknown[]): Promise<unknown> => ({ outcome: 'rolled_back' }));
const startScheduledPlanChange = jest.fn(async (_deps: unknown, operationId: string): Promise<unknown> => ({ operationId, outcome: 'started' }));

jest.mock('../../../functions/workflows/workflow-deps', () => ({
  workflowDependencies: () => ({ operations: { unfinishedBefore, scheduledDueBefore } }),
}));
jest.mock('../../../functions/plan-change/plan-change-steps', () => ({
  ...jest.requireActual('../../../functions/plan-change/plan-change-steps'),
  runPlanChangeStep: (...args: unknown[]) => runPlanChangeStep(...args),
}));
jest.mock('../../../functions/plan-change/scheduled-plan-change', () => ({
  ...jest.requireActual('../../../functions/plan-change/scheduled-plan-change'),
  startScheduledPlanChange: (deps: unknown, operationId: string) => startScheduledPlanChange(deps, operationId),
}));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler } = require('../../../functions/workflows/handlers/sweep-stuck-operations') as typeof import('../../../functions/workflows/handlers/sweep-stuck-operations');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { STUCK_AFTER_SECONDS, OVERDUE_AFTER_SECONDS } = require('../../../functions/workflows/sweep-stuck-operations') as typeof import('../../../functions/workflows/sweep-stuck-operations');

const logs = captureLogs();
afterAll(() => logs.restore());
beforeEach(() => {
  logs.clear();
  runPlanChangeStep.mockClear();
  startScheduledPlanChange.mockClear();
});

describe('Sweeper function: when sweeping fails', () => {
  it('should look back the stuck and overdue windows from now by default', async () => {
    const before = Date.now();
    await handler();
    const after = Date.now();
    const stuckBound = (unfinishedBefore.mock.calls.at(-1)?.[0] as Date).getTime();
    const overdueBound = (scheduledDueBefore.mock.calls.at(-1)?.[0] as Date).getTime();
    expect(stuckBound).toBeGreaterThanOrEqual(before - STUCK_AFTER_SECONDS * 1000);
    expect(stuckBound).toBeLessThanOrEqual(after - STUCK_AFTER_SECONDS * 1000);
    expect(overdueBound).toBeGreaterThanOrEqual(before - OVERDUE_AFTER_SECONDS * 1000);
    expect(overdueBound).toBeLessThanOrEqual(after - OVERDUE_AFTER_SECONDS * 1000);
  });

  it('should log nothing when there is nothing to sweep (it runs every 10 minutes)', async () => {
    unfinishedBefore.mockResolvedValueOnce([]); // the age of the oldest unfinished operation (a metric)
    unfinishedBefore.mockResolvedValueOnce([]); // the stuck ones
    scheduledDueBefore.mockResolvedValueOnce([]);
    await expect(handler()).resolves.toEqual({ examined: 0, compensated: [], overdueStarted: [], failed: [] });
    expect(logs.entries()).toEqual([]);
  });

  it('should answer what it swept when everything succeeded', async () => {
    await expect(handler()).resolves.toEqual({ examined: 4, compensated: ['op_stuck_1', 'op_stuck_2'], overdueStarted: ['op_overdue_1', 'op_overdue_2'], failed: [] });
  });

  it('should sweep every other operation when one compensation and one start fail, log each, and fail the invocation naming them', async () => {
    runPlanChangeStep.mockImplementation(async (_deps, _step, input) => {
      if ((input as { operationId: string }).operationId === 'op_stuck_1') throw new Error('DynamoDB unavailable');
      return { outcome: 'rolled_back' };
    });
    startScheduledPlanChange.mockImplementation(async (_deps, operationId) => {
      if (operationId === 'op_overdue_1') throw new Error('Step Functions unavailable');
      return { operationId, outcome: 'started' };
    });

    await expect(handler()).rejects.toThrow('Could not sweep operations: op_stuck_1, op_overdue_1');

    // The others were still swept: the failure of one did not stop the loop.
    expect(runPlanChangeStep.mock.calls.map((call) => (call[2] as { operationId: string }).operationId)).toEqual(['op_stuck_1', 'op_stuck_2']);
    expect(startScheduledPlanChange.mock.calls.map((call) => call[1])).toEqual(['op_overdue_1', 'op_overdue_2']);
    const errors = logs.entries().filter((entry) => entry.level === 'ERROR');
    expect(errors).toEqual([
      expect.objectContaining({ message: 'Sweeper could not compensate a stuck operation', operationId: 'op_stuck_1', tenantId: 'acme' }),
      expect.objectContaining({ message: 'Sweeper could not start an overdue scheduled plan change', operationId: 'op_overdue_1', tenantId: 'initech' }),
    ]);
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({ level: 'WARN', message: 'Swept operations', examined: 4, compensated: ['op_stuck_2'], overdueStarted: ['op_overdue_2'], failed: ['op_stuck_1', 'op_overdue_1'] }),
    );
  });
});
