/**
 * The calls budget of a plan change (issue 8): an upgrade, from the request to the end of its execution, is
 * at most 12 DynamoDB requests (11 today: CALLS_PER_UPGRADE), counted by a middleware on the client the functions use (the request, every
 * step, and the local billing ledger and provisioner, which share that client). What users notice: DynamoDB
 * Local serves a few hundred transactions a second here, so the count bounds how many upgrades run at once,
 * and on AWS it is what each one costs. The real ASL runs in-process against DynamoDB Local.
 *
 * And the carried facts must never be trusted past their version: a step retried after its work was done
 * (its answer lost) carries stale facts, falls back to reading, and the change still happens exactly once.
 */
import { LedgerBilling } from '../../../functions/billing';
import { BillingRejectedError, BillingTransientError } from '../../../functions/billing/billing-port';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { requestPlanChange } from '../../../functions/plan-change/plan-change-service';
import { runPlanChangeStep, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { getDocumentClient } from '../../../functions/shared/aws-clients';
import { config } from '../../../functions/shared/config';
import { tenantStore } from '../../../functions/tenants/tenant-service';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { countDynamoDbCalls } from '../../support/dynamodb-call-counter';
import { installMonthSafeClock } from '../../support/month-safe-clock';
import { useTestTable } from '../../support/test-table';

// Away from a month's end: an upgrade's proration is above zero (test/support/month-safe-clock.ts).
installMonthSafeClock();
useTestTable();
/**
 * Issue 8's budget is 12; an upgrade makes 11 now (the window opens with the initiate event, billing_started goes with
 * provisioned, and the billing step reads the operation's status before it bills: one read instead of that write).
 */
const CALLS_PER_UPGRADE = 11;
const calls = countDynamoDbCalls(getDocumentClient());
let fault: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies, retryIntervalMs: 1, faults: (state, phase, input) => fault?.(state, phase, input) });
const deps = () => ({ ...planChangeDependencies(), runner });
const ledger = new LedgerBilling({ client: getDocumentClient(), tableName: config.tableName });
const provisioner = new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });

afterEach(async () => {
  fault = undefined;
  await runner.idle();
});
afterAll(() => calls.remove());

async function newTenant(tenantId: string, plan: 'starter' | 'professional') {
  await tenantStore().create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan, usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } }, { actor: 'test' });
}

/** Request the change and run its execution to the end; the DynamoDB requests of both, per operation. */
async function changePlan(tenantId: string, plan: 'starter' | 'professional', effective?: 'immediately') {
  calls.reset();
  const answer = await requestPlanChange(deps(), tenantId, { plan, dryRun: false, drainTimeoutSeconds: 30, ...(effective ? { effective } : {}) }, 'test');
  await runner.idle();
  const counts = calls.counts();
  const total = calls.total();
  const operation = await planChangeDependencies().operations.get(answer.body.operationId as string);
  return { counts, total, operation, tenant: await tenantStore().get(tenantId), history: (await tenantStore().history(tenantId)).items.map((entry) => entry.event) };
}

/** A step that did its work and then lost its answer: the ASL retries it (a transient Lambda error). */
function loseAnswerOnce(state: string): FaultInjector {
  let thrown = false;
  return (name, phase) => {
    if (name !== state || phase !== 'after' || thrown) return;
    thrown = true;
    const error = new Error(`injected after ${state}: the answer was lost`);
    error.name = 'Lambda.ServiceException';
    throw error;
  };
}

describe('Plan change: DynamoDB calls per change', () => {
  it(`should upgrade with at most ${CALLS_PER_UPGRADE} DynamoDB requests, reading the tenant once`, async () => {
    await newTenant('calls-up', 'starter');
    const { counts, total, operation, tenant, history } = await changePlan('calls-up', 'professional');

    expect(operation).toMatchObject({ status: 'succeeded', steps: expect.arrayContaining(['read_only_window', 'drained', 'provisioning_started', 'provisioned', 'billing_started', 'billing_updated']) });
    expect(operation.facts).toMatchObject({ drainStartedAt: expect.any(String), billingChange: { kind: 'subscription_updated' }, previousProvisionedBy: 'baseline-calls-up' });
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional', version: 4 });
    expect(tenant.readOnlyReason).toBeUndefined();
    expect(history).toEqual(['complete_upgrade', 'start_read_only_window', 'initiate_upgrade', 'create']);
    expect({ total, counts }).toEqual({ total: expect.any(Number), counts: expect.objectContaining({ GetItem: 2 }) }); // the tenant once (the request), the operation once (billing)
    expect(total).toBeLessThanOrEqual(CALLS_PER_UPGRADE);
  });

  it(`should downgrade immediately with at most ${CALLS_PER_UPGRADE} DynamoDB requests`, async () => {
    await newTenant('calls-down', 'professional');
    const { total, operation, tenant } = await changePlan('calls-down', 'starter', 'immediately');

    expect(operation.status).toBe('succeeded');
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await ledger.ledgerEntries('calls-down')).map((entry) => entry.kind)).toEqual(['credit']);
    expect(total).toBeLessThanOrEqual(CALLS_PER_UPGRADE);
  });
});

describe('Plan change: the read-only window opens with the request', () => {
  it('should answer 202 with the window already open, in one transaction with the initiate event, before any step runs', async () => {
    await newTenant('calls-window', 'starter');
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    fault = async (state, phase, input) => {
      if (state === 'StartReadOnlyWindow' && phase === 'before' && input.tenantId === 'calls-window') await held;
    };
    calls.reset();
    const answer = await requestPlanChange(deps(), 'calls-window', { plan: 'professional', dryRun: false, drainTimeoutSeconds: 30 }, 'test');

    expect(answer.status).toBe(202);
    expect(calls.counts()).toEqual({ GetItem: 1, TransactWriteItems: 1 });
    const operationId = answer.body.operationId as string;
    const tenant = await tenantStore().get('calls-window');
    expect(tenant).toMatchObject({ state: 'upgrading', operationId, version: 3, readOnlyReason: expect.stringContaining('writes and new queries are paused') });
    const history = (await tenantStore().history('calls-window')).items;
    expect(history.map((entry) => [entry.version, entry.event])).toEqual([[3, 'start_read_only_window'], [2, 'initiate_upgrade'], [1, 'create']]);
    expect(history[0]?.reason).toBe(tenant.readOnlyReason);
    await expect(new QueryLeaseStore({ client: getDocumentClient(), tableName: config.tableName }).acquire('calls-window', { holder: 'late-query' })).rejects.toMatchObject({ name: 'LeaseRefusedError', reason: 'read_only_window' });
    const operation = await planChangeDependencies().operations.get(operationId);
    expect(operation).toMatchObject({ status: 'running', steps: ['read_only_window'], facts: { drainStartedAt: expect.any(String) } });
    // The drain counts from the request (two readings of the clock in one call: within a second of each other).
    expect(Math.abs(Date.parse(String(operation.facts.drainStartedAt)) - Date.parse(operation.createdAt))).toBeLessThan(1000);

    release();
    await runner.idle();
    expect(await tenantStore().get('calls-window')).toMatchObject({ state: 'active', plan: 'professional', version: 4 });
  });
});

describe('Plan change: billing and an operation that ended under the billing step', () => {
  afterEach(() => jest.restoreAllMocks());

  /** While billing is called (once), a compensation claims the operation (`cause`: a timeout, the sweeper): it finds nothing billed yet and rolls back. */
  function compensatedDuringBillingCall(cause: string) {
    const billing = planChangeDependencies().billing;
    const apply = billing.applyPlanChange.bind(billing);
    jest.spyOn(billing, 'applyPlanChange').mockImplementationOnce(async (request) => {
      const operation = await planChangeDependencies().operations.get(request.operationId);
      await runPlanChangeStep(planChangeDependencies(), 'compensate', operation.input as unknown as PlanChangeInput, { Error: cause, Cause: 'rolled back under the billing step' });
      return apply(request);
    });
    return billing;
  }

  /** Before UpdateBilling runs (once), the sweeper compensates the operation: the execution still runs on. */
  function sweptBeforeBilling(tenantId: string): FaultInjector {
    let done = false;
    return async (state, phase, input) => {
      if (state !== 'UpdateBilling' || phase !== 'before' || input.tenantId !== tenantId || done) return;
      done = true;
      const operation = await planChangeDependencies().operations.get(input.operationId);
      await runPlanChangeStep(planChangeDependencies(), 'compensate', operation.input as unknown as PlanChangeInput, { Error: 'OperationStuck', Cause: 'the sweeper rolled it back' });
    };
  }

  it('should revert a change billing made after a compensation claimed the operation (a timeout, the sweeper)', async () => {
    await newTenant('calls-late-billing', 'starter');
    compensatedDuringBillingCall('States.Timeout');
    const { operation, tenant } = await changePlan('calls-late-billing', 'professional');

    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'States.Timeout' } });
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect((await ledger.ledgerEntries('calls-late-billing')).map((entry) => entry.kind)).toEqual(['charge', 'reversal']);
    expect(await ledger.balance('calls-late-billing')).toBe(0);
    expect(await provisioner.outstanding('calls-late-billing')).toEqual([]);
  });

  it('should not call billing at all once the operation was rolled back before the billing step (nothing charged, not even charged and refunded)', async () => {
    await newTenant('late-step-nothing', 'starter');
    fault = sweptBeforeBilling('late-step-nothing');
    const apply = jest.spyOn(planChangeDependencies().billing, 'applyPlanChange');
    const { operation, tenant } = await changePlan('late-step-nothing', 'professional');

    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'OperationStuck' } });
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect(apply).not.toHaveBeenCalled();
    expect((await ledger.ledgerEntries('late-step-nothing')).map((entry) => entry.kind)).toEqual([]);
    expect(await provisioner.outstanding('late-step-nothing')).toEqual([]);
  });

  it('should not leave the customer charged on a change rolled back before the billing step when billing refuses refunds', async () => {
    await newTenant('late-step-refund-refused', 'starter');
    fault = sweptBeforeBilling('late-step-refund-refused');
    jest.spyOn(planChangeDependencies().billing, 'revertPlanChange').mockRejectedValue(new BillingRejectedError('the invoice is uncollectible: refund it by hand'));
    const { operation, tenant } = await changePlan('late-step-refund-refused', 'professional');

    expect(operation.status).toBe('rolled_back');
    expect(tenant).toMatchObject({ state: 'active', plan: 'starter' });
    expect(await ledger.balance('late-step-refund-refused')).toBe(0);
  });

  it("should still revert a change made during the billing call when the step's first revert failed transiently (the ASL retries the step)", async () => {
    await newTenant('late-step-revert-retried', 'starter');
    const billing = compensatedDuringBillingCall('OperationStuck');
    const revert = billing.revertPlanChange.bind(billing);
    jest.spyOn(billing, 'revertPlanChange').mockRejectedValueOnce(new BillingTransientError('the billing provider is unavailable')).mockImplementation(revert);
    const { operation } = await changePlan('late-step-revert-retried', 'professional');

    expect(operation.status).toBe('rolled_back');
    expect((await ledger.ledgerEntries('late-step-revert-retried')).map((entry) => entry.kind)).toEqual(['charge', 'reversal']);
    expect(await ledger.balance('late-step-revert-retried')).toBe(0);
  });

  it('should tell the operator, on the operation, when billing refuses to revert a change it made during the billing call', async () => {
    await newTenant('late-step-revert-refused', 'starter');
    const billing = compensatedDuringBillingCall('OperationStuck');
    jest.spyOn(billing, 'revertPlanChange').mockRejectedValue(new BillingRejectedError('invoice in_123 is uncollectible: refund or void it in Stripe by hand'));
    const { operation } = await changePlan('late-step-revert-refused', 'professional');

    // The change stays billed (billing refused for good): as when the compensation's own revert is refused, the
    // operation says so for an operator (facts.billingRevertFailed), instead of only a log line.
    expect(operation.status).toBe('rolled_back');
    expect(await ledger.balance('late-step-revert-refused')).toBeGreaterThan(0);
    expect(operation.facts.billingRevertFailed).toEqual(expect.stringContaining('uncollectible'));
  });
});

describe('Plan change: a step retried with stale carried facts does its work once', () => {
  it.each(['StartReadOnlyWindow', 'ProvisionResources', 'UpdateBilling'])('should succeed once when %s is retried after its answer was lost', async (state) => {
    const tenantId = `calls-retry-${state.toLowerCase()}`;
    await newTenant(tenantId, 'starter');
    fault = loseAnswerOnce(state);
    const { operation, tenant, history } = await changePlan(tenantId, 'professional');

    expect(operation).toMatchObject({ status: 'succeeded', facts: expect.objectContaining({ billingChange: expect.objectContaining({ kind: 'subscription_updated' }) }) });
    expect(operation.steps).toEqual([...new Set(operation.steps)]); // every marker once
    expect(operation.steps).toEqual(expect.arrayContaining(['read_only_window', 'drained', 'provisioning_started', 'provisioned', 'billing_started', 'billing_updated']));
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional' });
    expect(history).toEqual(['complete_upgrade', 'start_read_only_window', 'initiate_upgrade', 'create']); // one version each
    expect((await ledger.ledgerEntries(tenantId)).map((entry) => entry.kind)).toEqual(['charge']);
    expect((await provisioner.outstanding(tenantId)).map((entry) => entry.operationId)).toEqual([operation.operationId]);
  });

  it('should end succeeded, the old placement released, when the commit is retried after its answer was lost', async () => {
    await newTenant('calls-retry-commit', 'starter');
    fault = loseAnswerOnce('CommitPlan');
    const { operation, tenant, history } = await changePlan('calls-retry-commit', 'professional');

    expect(operation.status).toBe('succeeded');
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional' });
    expect(history.filter((event) => event === 'complete_upgrade')).toHaveLength(1);
    expect((await ledger.ledgerEntries('calls-retry-commit')).map((entry) => entry.kind)).toEqual(['charge']);
    expect((await provisioner.outstanding('calls-retry-commit')).map((entry) => entry.operationId)).toEqual([operation.operationId]);
  });

  it('should refuse the write made on a stale version, read the tenant again and go on while the operation still owns it', async () => {
    await newTenant('calls-stale', 'starter');
    // Between the drain and provisioning, another writer moves the tenant's version (an operator's repair).
    fault = async (state, phase, input) => {
      if (state !== 'DrainQueries' || phase !== 'after' || input.tenantId !== 'calls-stale') return;
      const tenant = await tenantStore().get('calls-stale');
      await tenantStore().startReadOnlyWindow(tenant, 'an operator paused writes', { actor: 'operator', operationId: input.operationId });
    };
    const { operation, tenant } = await changePlan('calls-stale', 'professional');

    // The carried version is stale: the step reads the tenant again, finds it still owned, and goes on; every
    // later write is made on the version read (one audit entry per version, none overwritten or skipped).
    expect(operation.status).toBe('succeeded');
    expect(tenant).toMatchObject({ state: 'active', plan: 'professional', version: 5 });
    expect((await tenantStore().history('calls-stale')).items.map((entry) => [entry.version, entry.event])).toEqual([
      [5, 'complete_upgrade'],
      [4, 'start_read_only_window'],
      [3, 'start_read_only_window'],
      [2, 'initiate_upgrade'],
      [1, 'create'],
    ]);
    expect((await ledger.ledgerEntries('calls-stale')).map((entry) => entry.kind)).toEqual(['charge']);
  });
});
