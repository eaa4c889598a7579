/**
 * Every handler module the stack deploys, loaded as Lambda loads it (its exported `handler`) and invoked with
 * an event as AWS delivers it (test/events/, see its README), against this file's table on DynamoDB Local.
 * Step Functions is aws-sdk-client-mock'ed: the requests the handlers make of it are asserted.
 * test/infra/deployed-entries.test.ts checks that test/events/manifest.json names a test for every deployed entry.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler as health } from '../../functions/api/health';
import { handler as notFound } from '../../functions/api/not-found';
import { handler as getExport } from '../../functions/export/handlers/get-export';
import { handler as listExports } from '../../functions/export/handlers/list-exports';
import { handler as startExport } from '../../functions/export/handlers/start-export';
import { handler as acquireLease } from '../../functions/leases/handlers/acquire-lease';
import { handler as releaseLease } from '../../functions/leases/handlers/release-lease';
import { handler as getOperation } from '../../functions/operations/handlers/get-operation';
import { handler as getDeletionCertificate } from '../../functions/deletion/handlers/get-deletion-certificate';
import { QueryLeaseStore } from '../../functions/leases/query-lease-store';
import { OperationStore } from '../../functions/operations/operation-store';
import { handler as cancelScheduledPlanChange } from '../../functions/plan-change/handlers/cancel-scheduled-plan-change';
import { handler as initiateDeletion } from '../../functions/deletion/handlers/initiate-deletion';
import { handler as cancelDeletion } from '../../functions/deletion/handlers/cancel-deletion';
import { handler as placeLegalHold } from '../../functions/deletion/handlers/place-legal-hold';
import { handler as releaseLegalHold } from '../../functions/deletion/handlers/release-legal-hold';
import { handler as reactivateTenant } from '../../functions/reactivation/handlers/reactivate-tenant';
import { handler as changePlan } from '../../functions/plan-change/handlers/change-plan';
import { handler as periodEndHandler } from '../../functions/plan-change/handlers/period-end';
import { handler as planChangeTask } from '../../functions/workflows/handlers/workflow-task';
import { handler as planChangeTimeout } from '../../functions/workflows/handlers/execution-ended';
import { handler as sweepStuckOperations } from '../../functions/workflows/handlers/sweep-stuck-operations';
import type { PlanChangeInput } from '../../functions/plan-change/plan-change-steps';
import { config } from '../../functions/shared/config';
import { handler as checkAccess } from '../../functions/tenants/handlers/check-access';
import { handler as createTenant } from '../../functions/tenants/handlers/create-tenant';
import { handler as getTenant } from '../../functions/tenants/handlers/get-tenant';
import { handler as listTenants } from '../../functions/tenants/handlers/list-tenants';
import { handler as reportUsage } from '../../functions/tenants/handlers/report-usage';
import { handler as resumeTenant } from '../../functions/tenants/handlers/resume-tenant';
import { handler as suspendTenant } from '../../functions/tenants/handlers/suspend-tenant';
import { handler as tenantHistory } from '../../functions/tenants/handlers/tenant-history';
import { TenantStore, type Tenant } from '../../functions/tenants/tenant-store';
import { setWorkflowRunner, StepFunctionsRunner } from '../../functions/workflows/workflow-runner';
import { apiEvent, executionStatusChange, periodEnd, planChangeTask as taskEvent, scheduledRule, type ApiRequestFixture } from '../support/events';

// The deployed task function is told its workflow by the CDK construct (WorkflowStateMachine).
process.env.WORKFLOW_NAME = 'plan-change';
import { useTestTable } from '../support/test-table';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TenantLifecycle-PlanChange';
const EXPORT_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TenantLifecycle-Export';
const REACTIVATION_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TenantLifecycle-Reactivation';
const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const operations = new OperationStore({ client, tableName: config.tableName });
const sfn = mockClient(SFNClient);
const context = { functionName: 'entry-points-test', awsRequestId: 'req-1' } as Context;

type RouteHandler = (event: ReturnType<typeof apiEvent>, context: Context) => Promise<{ statusCode: number; headers?: Record<string, string>; body?: string }>;

async function call(handler: RouteHandler, request: ApiRequestFixture) {
  const response = await handler(apiEvent(request), context);
  return { status: response.statusCode, headers: response.headers ?? {}, body: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : undefined };
}

/** The workflow input the last StartExecution request carried. */
function startedInput(): { operation: PlanChangeInput } {
  const calls = sfn.commandCalls(StartExecutionCommand);
  return JSON.parse(calls[calls.length - 1]?.args[0].input.input as string) as { operation: PlanChangeInput };
}

const tenantPrincipal = (tenantId: string) => ({ subject: `app@${tenantId}`, role: 'tenant' as const, tenantId });

/** A tenant with a downgrade scheduled, set up, and due `overdueSeconds` ago: what the period-end schedule starts. */
async function dueDowngrade(tenantId: string, overdueSeconds: number): Promise<{ tenant: Tenant; operationId: string }> {
  const tenant = await tenants.create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'professional', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
  const operationId = `op_${tenantId}`;
  const due = new Date(Date.now() - overdueSeconds * 1000).toISOString();
  const input = { operationId, tenantId, fromPlan: 'professional', toPlan: 'starter', direction: 'downgrade', timing: 'period_end', drainTimeoutSeconds: 30, requestedBy: 'operator@test' };
  await tenants.scheduleChange(tenant, { operationId, plan: 'starter', effectiveAt: due }, { actor: 'operator@test', operationId }, {
    event: 'initiate_downgrade',
    alsoPut: [operations.newItem({ operationId, tenantId, workflow: 'plan-change', input, requestedBy: 'operator@test', effectiveAt: due }, 'scheduled')],
  });
  await operations.markScheduled(operationId, due, due);
  return { tenant, operationId };
}

beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:x`, startDate: new Date() });
  setWorkflowRunner(new StepFunctionsRunner({ client: new SFNClient({ region: config.region }), stateMachineArns: { 'plan-change': STATE_MACHINE_ARN, export: EXPORT_STATE_MACHINE_ARN, reactivation: REACTIVATION_STATE_MACHINE_ARN } }));
});
afterAll(() => {
  sfn.restore();
});

describe('The caller, from the JWT authorizer context API Gateway passes on (requestContext.authorizer.jwt)', () => {
  it("should act as the token's subject: the audit trail's actor is its `sub`", async () => {
    await call(createTenant, { method: 'POST', route: '/tenants', body: { tenantId: 'ep-actor', name: 'Actor', email: 'ops@actor.example', plan: 'starter' }, principal: { subject: 'ops-7f3a@example.com', role: 'operator' } });
    const history = await call(tenantHistory, { method: 'GET', route: '/tenants/{tenantId}/history', pathParameters: { tenantId: 'ep-actor' } });
    expect(history.body?.items).toEqual([expect.objectContaining({ event: 'create', actor: 'ops-7f3a@example.com' })]);
  });

  it('should read the scopes from the `scope` claim when API Gateway passes `scopes: null`, and a tenant from the tenant_id claim', async () => {
    await tenants.create({ tenantId: 'ep-scopes', name: 'S', email: 's@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const event = apiEvent({ method: 'GET', route: '/tenants/{tenantId}/access', pathParameters: { tenantId: 'ep-scopes' }, principal: tenantPrincipal('ep-scopes') });
    const jwt = event.requestContext.authorizer?.jwt;
    if (!jwt) throw new Error('the fixture has no JWT context');
    jwt.scopes = null;
    expect((await checkAccess(event, context)).statusCode).toBe(200);
    jwt.claims.tenant_id = 'ep-other';
    expect((await checkAccess(event, context)).statusCode).toBe(403);
  });

  it('should answer 401 UNAUTHENTICATED, changing nothing, when the context names no principal (no context, no subject, a tenant scope without a tenant)', async () => {
    const suspend = (mutate: (event: ReturnType<typeof apiEvent>) => void) => {
      const event = apiEvent({ method: 'POST', route: '/tenants/{tenantId}/suspend', pathParameters: { tenantId: 'ep-scopes' }, body: { reason: 'x' } });
      mutate(event);
      return suspendTenant(event, context);
    };
    const refusals = await Promise.all([
      suspend((event) => (event.requestContext.authorizer = null)),
      suspend((event) => delete event.requestContext.authorizer?.jwt?.claims.sub),
      suspend((event) => Object.assign(event.requestContext.authorizer?.jwt ?? {}, { scopes: ['tenant-lifecycle/tenant'], claims: { sub: 'app', scope: 'tenant-lifecycle/tenant' } })),
      suspend((event) => Object.assign(event.requestContext.authorizer?.jwt ?? {}, { scopes: null, claims: { sub: 'app', scope: 'openid email' } })),
    ]);
    for (const refusal of refusals) expect([refusal.statusCode, (JSON.parse(refusal.body ?? '{}') as { error: { code: string } }).error.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await tenants.get('ep-scopes')).state).toBe('active');
  });
});

describe('API route handlers (API Gateway HTTP API event, JWT authorizer context)', () => {
  it('Health: answers 200 without a caller', async () => {
    expect(await call(health, { method: 'GET', route: '/health', principal: null })).toMatchObject({ status: 200 });
  });

  it('NotFound ($default): answers 404 in the error shape', async () => {
    const response = await call(notFound, { method: 'GET', route: '/nowhere' });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('tenant routes: create, read, list, history, access, usage, suspend, resume', async () => {
    const created = await call(createTenant, { method: 'POST', route: '/tenants', body: { tenantId: 'ep-acme', name: 'Acme', email: 'ops@acme.example', plan: 'starter' } });
    expect(created).toMatchObject({ status: 201, body: { tenantId: 'ep-acme', state: 'active', plan: 'starter' } });
    const path = { pathParameters: { tenantId: 'ep-acme' } };

    expect(await call(getTenant, { method: 'GET', route: '/tenants/{tenantId}', ...path })).toMatchObject({ status: 200, body: { tenantId: 'ep-acme', version: 1 } });
    const listed = await call(listTenants, { method: 'GET', route: '/tenants', query: { state: 'active' } });
    expect((listed.body?.items as Tenant[]).map((t) => t.tenantId)).toContain('ep-acme');
    expect(await call(checkAccess, { method: 'GET', route: '/tenants/{tenantId}/access', ...path, principal: tenantPrincipal('ep-acme') })).toMatchObject({
      status: 200,
      body: { access: 'read_write', plan: 'starter' },
    });
    const usage = { queriesPerMonth: 10, storageGb: 1, documents: 5, users: 2 };
    expect(await call(reportUsage, { method: 'PUT', route: '/tenants/{tenantId}/usage', ...path, principal: tenantPrincipal('ep-acme'), body: { usage } })).toMatchObject({ status: 200 });
    expect((await tenants.get('ep-acme')).usage).toEqual(usage);

    expect(await call(suspendTenant, { method: 'POST', route: '/tenants/{tenantId}/suspend', ...path, body: { reason: 'unpaid' } })).toMatchObject({ status: 200, body: { state: 'suspended' } });
    expect(await call(resumeTenant, { method: 'POST', route: '/tenants/{tenantId}/resume', ...path, body: {} })).toMatchObject({ status: 200, body: { state: 'active' } });
    const history = await call(tenantHistory, { method: 'GET', route: '/tenants/{tenantId}/history', ...path });
    expect((history.body?.items as Array<{ event: string }>).map((e) => e.event).slice(0, 2)).toEqual(['complete_reactivation', 'resume']);
    expect(await call(getDeletionCertificate, { method: 'GET', route: '/tenants/{tenantId}/deletion-certificate', ...path })).toMatchObject({
      status: 404,
      body: { error: { code: 'DELETION_CERTIFICATE_NOT_FOUND', details: { tenantId: 'ep-acme', state: 'active' } } },
    });
  });

  it('lease routes: acquire then release, the lease gone from the table', async () => {
    await tenants.create({ tenantId: 'ep-lease', name: 'L', email: 'l@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 } }, { actor: 'test' });
    const principal = tenantPrincipal('ep-lease');
    const lease = await call(acquireLease, { method: 'POST', route: '/tenants/{tenantId}/leases', pathParameters: { tenantId: 'ep-lease' }, principal, body: { holder: 'query-1', ttlSeconds: 30 } });
    expect(lease).toMatchObject({ status: 201, body: { holder: 'query-1', leaseId: expect.any(String) } });

    const released = await call(releaseLease, { method: 'DELETE', route: '/tenants/{tenantId}/leases/{leaseId}', pathParameters: { tenantId: 'ep-lease', leaseId: lease.body?.leaseId as string }, principal });
    expect(released.status).toBe(204);
    expect(await new QueryLeaseStore({ client, tableName: config.tableName }).liveLeases('ep-lease')).toEqual([]);
  });
});

describe('GDPR export routes: start, read, list', () => {
  it('StartExport starts the export execution named after the export on its state machine; GetExport and ListExports read it', async () => {
    await tenants.create({ tenantId: 'ep-export', name: 'Export', email: 'export@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const path = { pathParameters: { tenantId: 'ep-export' } };

    const started = await call(startExport, { method: 'POST', route: '/tenants/{tenantId}/exports', ...path, body: {} });

    expect(started.status).toBe(202);
    const exportId = started.body?.exportId as string;
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: EXPORT_STATE_MACHINE_ARN, name: exportId });
    expect(startedInput().operation).toMatchObject({ operationId: exportId, tenantId: 'ep-export' });
    expect(await tenants.get('ep-export')).toMatchObject({ state: 'exporting', operationId: exportId });
    expect(await call(getExport, { method: 'GET', route: '/exports/{exportId}', pathParameters: { exportId } })).toMatchObject({ status: 200, body: { exportId, tenantId: 'ep-export', status: 'running' } });
    const listed = await call(listExports, { method: 'GET', route: '/tenants/{tenantId}/exports', ...path });
    expect((listed.body?.items as Array<{ exportId: string }>).map((item) => item.exportId)).toEqual([exportId]);
  });
});

describe('Plan change: route, Step Functions start, Task and timeout handlers', () => {
  it('ChangePlan starts the execution named after the operation on the configured state machine; GetOperation reads it', async () => {
    await tenants.create({ tenantId: 'ep-up', name: 'Up', email: 'up@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });

    const started = await call(changePlan, { method: 'POST', route: '/tenants/{tenantId}/plan', pathParameters: { tenantId: 'ep-up' }, body: { plan: 'professional' } });

    expect(started.status).toBe(202);
    const operationId = started.body?.operationId as string;
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: STATE_MACHINE_ARN, name: operationId });
    expect(startedInput().operation).toMatchObject({ operationId, tenantId: 'ep-up', fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade' });
    expect(await call(getOperation, { method: 'GET', route: '/operations/{operationId}', pathParameters: { operationId } })).toMatchObject({ status: 200, body: { operationId, status: 'running' } });

    // The Task state's input (statemachines/plan-change.asl.json Parameters) for its first step.
    await planChangeTask(taskEvent('startReadOnlyWindow', startedInput().operation));
    expect((await tenants.get('ep-up')).readOnlyReason).toEqual(expect.any(String));
    await expect(planChangeTask(taskEvent('noSuchStep' as never, startedInput().operation))).rejects.toThrow(/Unknown plan-change step/);

    // The execution timed out (its Catch never ran): the timeout handler compensates.
    await planChangeTimeout(executionStatusChange('TIMED_OUT', startedInput()));
    expect(await tenants.get('ep-up')).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await tenants.get('ep-up')).readOnlyReason).toBeUndefined();
    expect(await operations.get(operationId)).toMatchObject({ status: 'rolled_back', error: { code: 'States.Timeout' } });
  });

  it.each([
    ['ABORTED', 'ExecutionAborted', 'was aborted'],
    ['FAILED', 'ExecutionFailed', 'failed'],
  ])('the timeout handler compensates an execution that ended %s (error %s)', async (status, code, cause) => {
    const tenantId = `ep-${status.toLowerCase()}`;
    await tenants.create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const started = await call(changePlan, { method: 'POST', route: '/tenants/{tenantId}/plan', pathParameters: { tenantId }, body: { plan: 'professional' } });

    await planChangeTimeout(executionStatusChange(status, startedInput()));

    expect(await tenants.get(tenantId)).toMatchObject({ state: 'active', plan: 'starter' });
    expect(await operations.get(started.body?.operationId as string)).toMatchObject({ status: 'rolled_back', error: { code, message: expect.stringContaining(cause) } });
  });

  it.each([
    ['a Lambda error (Cause is its JSON)', { Error: 'ProvisioningTransientError', Cause: JSON.stringify({ errorType: 'ProvisioningTransientError', errorMessage: 'Pinecone is unavailable while copying', trace: ['at x'] }) }, { code: 'ProvisioningTransientError', message: 'Pinecone is unavailable while copying' }],
    ['a plain-text cause', { Error: 'States.Timeout', Cause: 'Task timed out after 30 seconds' }, { code: 'States.Timeout', message: 'Task timed out after 30 seconds' }],
    ['no failure at all', undefined, { code: 'Unknown', message: 'The workflow failed without an error.' }],
  ])('the Task compensate step (the ASL Catch) records %s as the operation error', async (_, failure, error) => {
    const tenantId = `ep-catch-${(failure?.Error ?? 'none').toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
    await tenants.create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const started = await call(changePlan, { method: 'POST', route: '/tenants/{tenantId}/plan', pathParameters: { tenantId }, body: { plan: 'professional' } });

    await planChangeTask({ ...taskEvent('compensate', startedInput().operation), ...(failure ? { failure } : {}) });

    expect(await operations.get(started.body?.operationId as string)).toMatchObject({ status: 'rolled_back', error });
    expect(await tenants.get(tenantId)).toMatchObject({ state: 'active', plan: 'starter' });
  });

  it('the timeout handler ignores an execution that succeeded', async () => {
    await tenants.create({ tenantId: 'ep-ok', name: 'Ok', email: 'ok@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const started = await call(changePlan, { method: 'POST', route: '/tenants/{tenantId}/plan', pathParameters: { tenantId: 'ep-ok' }, body: { plan: 'professional' } });

    await planChangeTimeout(executionStatusChange('SUCCEEDED', startedInput()));

    expect(await operations.get(started.body?.operationId as string)).toMatchObject({ status: 'running' });
    expect((await tenants.get('ep-ok')).state).toBe('upgrading');
  });

  it('CancelScheduledPlanChange cancels a scheduled downgrade', async () => {
    const { operationId } = await dueDowngrade('ep-cancel', -3600);
    const cancelled = await call(cancelScheduledPlanChange, { method: 'DELETE', route: '/tenants/{tenantId}/scheduled-plan-change', pathParameters: { tenantId: 'ep-cancel' } });
    expect(cancelled.status).toBeLessThan(300);
    expect((await tenants.get('ep-cancel')).scheduledPlanChange).toBeUndefined();
    expect((await operations.get(operationId)).status).toBe('cancelled');

    const again = await call(cancelScheduledPlanChange, { method: 'DELETE', route: '/tenants/{tenantId}/scheduled-plan-change', pathParameters: { tenantId: 'ep-cancel' } });
    expect(again).toMatchObject({ status: 404, body: { error: { code: 'NO_SCHEDULED_PLAN_CHANGE' } } });
  });

  it('period-end (EventBridge Scheduler target) starts the due downgrade', async () => {
    const { operationId } = await dueDowngrade('ep-period-end', 0);

    const result = await periodEndHandler(periodEnd(operationId, 'ep-period-end'));

    expect(result).toMatchObject({ operationId, outcome: 'started' });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: STATE_MACHINE_ARN, name: operationId });
    expect(await tenants.get('ep-period-end')).toMatchObject({ state: 'downgrading' });
    await expect(periodEndHandler({ ...periodEnd(operationId, 'ep-period-end'), payload: {} as never })).rejects.toThrow(TypeError);
    // A second delivery (Scheduler delivers at least once) starts the same execution again, same name and input:
    // Step Functions takes that as the execution already running, and the delivery says it only re-ensured it.
    // An unknown operation is reported.
    await expect(periodEndHandler(periodEnd(operationId, 'ep-period-end'))).resolves.toMatchObject({ operationId, outcome: 'restarted' });
    const [first, second] = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(second).toEqual(first);
    await expect(periodEndHandler(periodEnd('op_unknown', 'ep-period-end'))).resolves.toEqual({ operationId: 'op_unknown', outcome: 'not_found' });
  });

  it('the sweeper (EventBridge scheduled rule) starts a scheduled change whose schedule was lost', async () => {
    const { operationId } = await dueDowngrade('ep-sweep', 3600);

    // Lambda passes the rule's event; the sweeper does not need it.
    const result = await (sweepStuckOperations as (event: unknown) => ReturnType<typeof sweepStuckOperations>)(scheduledRule());

    expect(result.overdueStarted).toContain(operationId);
    expect(result.failed).toEqual([]);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { name: operationId });
    expect((await tenants.get('ep-sweep')).state).toBe('downgrading');
  });
});

describe('Deletion routes: soft delete, its cancellation, legal hold', () => {
  it('InitiateDeletion soft-deletes, PlaceLegalHold and ReleaseLegalHold hold and release, CancelDeletion brings the tenant back', async () => {
    await tenants.create({ tenantId: 'ep-delete', name: 'ep-delete', email: 'ep-delete@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const path = { pathParameters: { tenantId: 'ep-delete' } };

    const deleted = await call(initiateDeletion, { method: 'POST', route: '/tenants/{tenantId}/deletion', ...path, body: { retentionDays: 30 } });
    expect(deleted).toMatchObject({ status: 202, body: { state: 'deleting', deletion: { retentionDays: 30 } } });
    const held = await call(placeLegalHold, { method: 'PUT', route: '/tenants/{tenantId}/legal-hold', ...path, body: { reason: 'Litigation' } });
    expect(held).toMatchObject({ status: 200, body: { legalHold: { reason: 'Litigation' } } });
    const released = await call(releaseLegalHold, { method: 'DELETE', route: '/tenants/{tenantId}/legal-hold', ...path });
    expect(released.status).toBe(200);
    const cancelled = await call(cancelDeletion, { method: 'DELETE', route: '/tenants/{tenantId}/deletion', ...path });
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'active' } });
    expect((await tenants.get('ep-delete')).deletion).toBeUndefined();
  });
});

describe('Reactivation route', () => {
  it('ReactivateTenant starts the reactivation execution named after the operation on its state machine; GetOperation reads it', async () => {
    await tenants.create({ tenantId: 'ep-reactivate', name: 'ep-reactivate', email: 'ep-reactivate@example.com', plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, { actor: 'test' });
    const path = { pathParameters: { tenantId: 'ep-reactivate' } };
    expect(await call(suspendTenant, { method: 'POST', route: '/tenants/{tenantId}/suspend', ...path, body: { reason: 'unpaid' } })).toMatchObject({ status: 200 });

    const started = await call(reactivateTenant, { method: 'POST', route: '/tenants/{tenantId}/reactivate', ...path, body: { reason: 'paid again' } });

    expect(started).toMatchObject({ status: 202, body: { tenantId: 'ep-reactivate', path: 'resume', from: 'suspended', plan: 'starter', status: 'running' } });
    const operationId = started.body?.operationId as string;
    expect(started.headers.location).toBe(`/operations/${operationId}`);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: REACTIVATION_STATE_MACHINE_ARN, name: operationId });
    expect(startedInput().operation).toMatchObject({ operationId, tenantId: 'ep-reactivate', path: 'resume', origin: 'suspended', plan: 'starter' });
    expect(await tenants.get('ep-reactivate')).toMatchObject({ state: 'reactivating', operationId });
    expect(await call(getOperation, { method: 'GET', route: '/operations/{operationId}', pathParameters: { operationId } })).toMatchObject({ status: 200, body: { operationId, status: 'running' } });
  });
});
