/**
 * On AWS, the workflow's ending steps log how it ended: one structured entry with operation, tenant, status
 * and cause, correlated by the operation id. The steps themselves and the operation record are stand-ins here
 * (the workflow's behaviour is tested against DynamoDB Local elsewhere); the entry is what is asserted.
 * The EventBridge envelope is AWS's sample (test/events/eventbridge-base.json).
 */
import '../../support/log-level-info';
import type { EventBridgeEvent } from 'aws-lambda';
import envelope from '../../events/eventbridge-base.json';
import type { Operation } from '../../../functions/operations/operation-store';
import type { PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { captureLogs } from '../../support/captured-logs';

const stored: { operation?: Partial<Operation> } = {};
const runPlanChangeStep = jest.fn(async (..._args: unknown[]) => ({}));
jest.mock('../../../functions/workflows/ports', () => ({
  workflowPorts: () => ({ operations: { get: async () => stored.operation, find: async () => stored.operation } }),
}));
// The deployed task function is told its workflow by the CDK construct.
process.env.WORKFLOW_NAME = 'plan-change';
jest.mock('../../../functions/plan-change/plan-change-steps', () => ({
  ...jest.requireActual('../../../functions/plan-change/plan-change-steps'),
  runPlanChangeStep: (...args: unknown[]) => runPlanChangeStep(...args),
}));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler: task } = require('../../../functions/workflows/handlers/workflow-task') as typeof import('../../../functions/workflows/handlers/workflow-task');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler: timeout } = require('../../../functions/workflows/handlers/execution-ended') as typeof import('../../../functions/workflows/handlers/execution-ended');

const operation: PlanChangeInput = {
  operationId: 'op_1',
  tenantId: 'acme-corp',
  direction: 'upgrade',
  fromPlan: 'starter',
  toPlan: 'professional',
  timing: 'immediately',
  drainTimeoutSeconds: 1,
  requestedBy: 'operator:ops',
};
const rolledBack: Partial<Operation> = {
  operationId: 'op_1',
  tenantId: 'acme-corp',
  workflow: 'plan-change',
  status: 'rolled_back',
  error: { code: 'DrainTimeoutError', message: '1 in-flight query still holds its lease after the drain timeout of 1 s' },
};

let logs: ReturnType<typeof captureLogs>;
beforeAll(() => {
  logs = captureLogs();
});
beforeEach(() => logs.clear());
afterAll(() => logs.restore());

const ended = () => logs.entries().filter((entry) => entry.message === 'Workflow ended');

describe('Handler: plan-change task', () => {
  it('should log the outcome after compensate: operation, tenant, status and cause, with the operation id as correlation id', async () => {
    stored.operation = rolledBack;
    await task({ step: 'compensate', operation, failure: { Error: 'DrainTimeoutError', Cause: 'x' } });

    expect(ended()).toEqual([
      expect.objectContaining({
        workflow: 'plan-change',
        operationId: 'op_1',
        tenantId: 'acme-corp',
        status: 'rolled_back',
        cause: 'DrainTimeoutError: 1 in-flight query still holds its lease after the drain timeout of 1 s',
        correlation_id: 'op_1',
      }),
    ]);
  });

  it('should log the outcome after the commit, without a cause', async () => {
    stored.operation = { ...rolledBack, status: 'succeeded', error: undefined };
    await task({ step: 'commitPlan', operation });

    expect(ended()).toEqual([expect.objectContaining({ operationId: 'op_1', status: 'succeeded', correlation_id: 'op_1' })]);
    expect(ended()[0]).not.toHaveProperty('cause');
  });

  it('should log an execution that ended without writing its operation as not_started, without failing the step', async () => {
    stored.operation = undefined;
    await task({ step: 'compensate', operation, failure: { Error: 'States.TaskFailed', Cause: 'x' } });
    expect(ended()).toEqual([expect.objectContaining({ operationId: 'op_1', status: 'not_started', correlation_id: 'op_1' })]);
  });

  it('should log no outcome for a step that does not end the workflow', async () => {
    await task({ step: 'drainQueries', operation });
    expect(ended()).toEqual([]);
    expect(logs.entries().every((entry) => entry.correlation_id === 'op_1')).toBe(true);
  });
});

describe('Handler: plan-change timeout', () => {
  it('should log the outcome of the compensation of a timed-out execution', async () => {
    stored.operation = { ...rolledBack, error: { code: 'States.Timeout', message: 'The plan-change workflow timed out.' } };
    const event = {
      ...envelope,
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: 'arn:aws:states:us-east-1:111122223333:execution:plan-change:op_1', status: 'TIMED_OUT', input: JSON.stringify({ operation }) },
    } as unknown as EventBridgeEvent<'Step Functions Execution Status Change', { executionArn: string; status: string; input: string }>;
    await timeout(event);

    expect(runPlanChangeStep).toHaveBeenLastCalledWith(expect.anything(), 'compensate', operation, expect.objectContaining({ Error: 'States.Timeout' }));
    expect(ended()).toEqual([expect.objectContaining({ operationId: 'op_1', tenantId: 'acme-corp', status: 'rolled_back', cause: 'States.Timeout: The plan-change workflow timed out.', correlation_id: 'op_1' })]);
  });

  it('should compensate nothing, and say so, for an execution that ended before writing its operation', async () => {
    stored.operation = undefined;
    runPlanChangeStep.mockClear();
    const event = {
      ...envelope,
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { executionArn: 'arn:aws:states:us-east-1:111122223333:execution:plan-change:op_1', status: 'FAILED', input: JSON.stringify({ operation }) },
    } as unknown as EventBridgeEvent<'Step Functions Execution Status Change', { executionArn: string; status: string; input: string }>;
    await timeout(event);

    expect(runPlanChangeStep).not.toHaveBeenCalled();
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'An execution ended without its Catch before writing its operation: nothing to compensate', operationId: 'op_1' }));
  });
});
