/**
 * The deployed deletion entry points, invoked as Lambda invokes them (the event fixtures of test/events), on
 * DynamoDB Local, with the Step Functions adapter's requests asserted: the deadline and enforcement-check
 * targets, the hourly deletion sweeper and GET /compliance/violations.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { deletionSchedule } from '../../functions/deletion/deletion-policy';
import { handler as deadline } from '../../functions/deletion/handlers/deadline';
import { handler as enforcementCheck } from '../../functions/deletion/handlers/enforcement-check';
import { handler as listViolations } from '../../functions/deletion/handlers/list-violations';
import { handler as sweepDeletions } from '../../functions/deletion/handlers/sweep-deletions';
import { hardDeleteOperationId } from '../../functions/deletion/start-hard-delete';
import { config } from '../../functions/shared/config';
import { TenantStore } from '../../functions/tenants/tenant-store';
import { setWorkflowRunner, StepFunctionsRunner } from '../../functions/workflows/workflow-runner';
import { apiEvent, deletionFiring, scheduledRule } from '../support/events';
import { useTestTable } from '../support/test-table';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TenantLifecycle-HardDelete';
const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const sfn = mockClient(SFNClient);
const context = { functionName: 'deletion-entry-points-test', awsRequestId: 'req-1' } as Context;
/** Soft-deleted 40 days ago with 30 days' retention: its window closed 9 days ago. */
const REQUESTED_AT = new Date(Math.floor((Date.now() - 40 * 86_400_000) / 1000) * 1000);
const deletion = deletionSchedule({ tenantId: 'ep-deleting', requestedAt: REQUESTED_AT, requestedBy: 'operator@test', retentionDays: 30 });
const payload = { tenantId: 'ep-deleting', deletionRequestedAt: deletion.requestedAt };

beforeAll(async () => {
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE_ARN}:x`, startDate: new Date() });
  setWorkflowRunner(new StepFunctionsRunner({ client: new SFNClient({ region: config.region }), stateMachineArns: { 'hard-delete': STATE_MACHINE_ARN } }));
  const tenant = await tenants.create({ tenantId: 'ep-deleting', name: 'ep', email: 'ep@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
  await tenants.applyTransition(tenant, 'initiate_deletion', { actor: 'operator@test' }, { changes: { deletion } });
});
afterAll(() => sfn.restore());
beforeEach(() => sfn.resetHistory());

/** The StartExecution requests made: state machine, execution name, the operation. */
function starts() {
  return sfn.commandCalls(StartExecutionCommand).map((call) => {
    const { stateMachineArn, name, input } = call.args[0].input;
    return { stateMachineArn, name, operation: (JSON.parse(input as string) as { operation: Record<string, unknown> }).operation };
  });
}

test('the deadline target starts the hard-delete state machine, named after the firing', async () => {
  const event = deletionFiring('hard-delete.deadline', deletion.schedules.hardDelete, payload, deletion.deadline);
  const result = await deadline(event);
  const name = hardDeleteOperationId({ tenantId: 'ep-deleting', trigger: 'deadline', scheduledAt: new Date(deletion.deadline), deletionRequestedAt: deletion.requestedAt });
  expect(result).toEqual({ outcome: 'started', operationId: name });
  expect(starts()).toEqual([
    { stateMachineArn: STATE_MACHINE_ARN, name, operation: { operationId: name, tenantId: 'ep-deleting', trigger: 'deadline', scheduledAt: deletion.deadline, deletionRequestedAt: deletion.requestedAt } },
  ]);
});

test('the enforcement check past the window starts the hard delete (trigger enforcement-check)', async () => {
  const at = new Date(Date.parse(deletion.window.closesAt) + 60_000).toISOString();
  await expect(enforcementCheck(deletionFiring('hard-delete.enforcement', deletion.schedules.enforcement, payload, at))).resolves.toMatchObject({ outcome: 'started' });
  expect(starts().map((start) => [start.stateMachineArn, start.operation.trigger, start.operation.scheduledAt])).toEqual([[STATE_MACHINE_ARN, 'enforcement-check', at]]);
});

test('the hourly sweeper (an EventBridge rule event) starts the hard delete of the tenant past its window', async () => {
  const result = await (sweepDeletions as (event: unknown) => ReturnType<typeof sweepDeletions>)(scheduledRule());
  expect(result.started.map((started) => started.tenantId)).toEqual(['ep-deleting']);
  expect(starts().map((start) => [start.name, start.operation.trigger])).toEqual([[result.started[0]?.operationId, 'sweeper']]);
});

test('GET /compliance/violations answers operators, and refuses tenant-scoped tokens', async () => {
  const operator = await listViolations(apiEvent({ method: 'GET', route: '/compliance/violations', query: { limit: '10' } }), context);
  expect(operator.statusCode).toBe(200);
  expect(JSON.parse(operator.body as string)).toEqual({ items: [], nextCursor: null });
  const tenant = await listViolations(apiEvent({ method: 'GET', route: '/compliance/violations', principal: { subject: 'app@ep-deleting', role: 'tenant', tenantId: 'ep-deleting' } }), context);
  expect(tenant.statusCode).toBe(403);
});
