/**
 * Review of fdb2441 / df57399: a billing step that runs after its operation has already ended (the sweeper, or a
 * timeout's compensation, rolled the change back while the execution still ran) must not bill the customer. Before
 * fdb2441 the billing step's own `billing_started` write (conditioned on the operation still running) stopped it
 * before billing was called; since, an immediate change's billing step carries `billingStarted` and calls billing at
 * once, relying on a revert afterwards (a real charge and refund on Stripe; a charge left if the refund is refused).
 */
import { BillingRejectedError, BillingTransientError } from '../../../functions/billing/billing-port';
import { LedgerBilling } from '../../../functions/billing';
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { requestPlanChange } from '../../../functions/plan-change/plan-change-service';
import { runPlanChangeStep, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { getDocumentClient } from '../../../functions/shared/aws-clients';
import { config } from '../../../functions/shared/config';
import { tenantStore } from '../../../functions/tenants/tenant-service';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { installMonthSafeClock } from '../../support/month-safe-clock';
import { useTestTable } from '../../support/test-table';

// Away from a month's end: the upgrade's proration is above zero (test/support/month-safe-clock.ts).
installMonthSafeClock();
useTestTable();
let fault: FaultInjector | undefined;
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies, retryIntervalMs: 1, faults: (state, phase, input) => fault?.(state, phase, input) });
const deps = () => ({ ...planChangeDependencies(), runner });
const ledger = new LedgerBilling({ client: getDocumentClient(), tableName: config.tableName });
const provisioner = new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });

afterEach(async () => {
  fault = undefined;
  jest.restoreAllMocks();
  await runner.idle();
});

async function newTenant(tenantId: string) {
  await tenantStore().create({ tenantId, name: tenantId, email: `${tenantId}@example.com`, plan: 'starter', usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } }, { actor: 'test' });
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

async function upgrade(tenantId: string) {
  const answer = await requestPlanChange(deps(), tenantId, { plan: 'professional', dryRun: false, drainTimeoutSeconds: 30 }, 'test');
  await runner.idle();
  return planChangeDependencies().operations.get(answer.body.operationId as string);
}

describe('Review: a billing step that runs after its operation was rolled back', () => {
  it('should not call billing at all (nothing charged, not even charged and refunded)', async () => {
    await newTenant('late-step-nothing');
    fault = sweptBeforeBilling('late-step-nothing');
    const apply = jest.spyOn(planChangeDependencies().billing, 'applyPlanChange');

    const operation = await upgrade('late-step-nothing');

    expect(operation).toMatchObject({ status: 'rolled_back', error: { code: 'OperationStuck' } });
    expect(await tenantStore().get('late-step-nothing')).toMatchObject({ state: 'active', plan: 'starter' });
    expect(apply).not.toHaveBeenCalled();
    expect((await ledger.ledgerEntries('late-step-nothing')).map((entry) => entry.kind)).toEqual([]);
    expect(await provisioner.outstanding('late-step-nothing')).toEqual([]);
  });

  it('should not leave the customer charged on the rolled-back change when billing refuses the refund', async () => {
    await newTenant('late-step-refund-refused');
    fault = sweptBeforeBilling('late-step-refund-refused');
    jest.spyOn(planChangeDependencies().billing, 'revertPlanChange').mockRejectedValue(new BillingRejectedError('the invoice is uncollectible: refund it by hand'));

    const operation = await upgrade('late-step-refund-refused');

    expect(operation.status).toBe('rolled_back');
    expect(await tenantStore().get('late-step-refund-refused')).toMatchObject({ state: 'active', plan: 'starter' });
    expect(await ledger.balance('late-step-refund-refused')).toBe(0);
  });

  it('should still revert a charge made during the billing call when the step\'s first revert failed transiently (the ASL retries the step)', async () => {
    await newTenant('late-step-revert-retried');
    const billing = planChangeDependencies().billing;
    const apply = billing.applyPlanChange.bind(billing);
    const revert = billing.revertPlanChange.bind(billing);
    jest.spyOn(billing, 'applyPlanChange').mockImplementationOnce(async (request) => {
      // While billing is called, the sweeper compensates: it finds nothing billed yet and rolls back.
      const operation = await planChangeDependencies().operations.get(request.operationId);
      await runPlanChangeStep(planChangeDependencies(), 'compensate', operation.input as unknown as PlanChangeInput, { Error: 'OperationStuck', Cause: 'the sweeper rolled it back' });
      return apply(request);
    });
    jest.spyOn(billing, 'revertPlanChange').mockRejectedValueOnce(new BillingTransientError('the billing provider is unavailable')).mockImplementation(revert);

    const operation = await upgrade('late-step-revert-retried');

    expect(operation.status).toBe('rolled_back');
    expect((await ledger.ledgerEntries('late-step-revert-retried')).map((entry) => entry.kind)).toEqual(['charge', 'reversal']);
    expect(await ledger.balance('late-step-revert-retried')).toBe(0);
  });

  it('should tell the operator, on the operation, when billing refuses to revert a change it made during the billing call', async () => {
    await newTenant('late-step-revert-refused');
    const billing = planChangeDependencies().billing;
    const apply = billing.applyPlanChange.bind(billing);
    jest.spyOn(billing, 'applyPlanChange').mockImplementationOnce(async (request) => {
      const operation = await planChangeDependencies().operations.get(request.operationId);
      await runPlanChangeStep(planChangeDependencies(), 'compensate', operation.input as unknown as PlanChangeInput, { Error: 'OperationStuck', Cause: 'the sweeper rolled it back' });
      return apply(request);
    });
    jest.spyOn(billing, 'revertPlanChange').mockRejectedValue(new BillingRejectedError('invoice in_123 is uncollectible: refund or void it in Stripe by hand'));

    const operation = await upgrade('late-step-revert-refused');

    // The change stays billed (billing refused for good): as when the compensation's own revert is refused, the
    // operation says so for an operator (facts.billingRevertFailed), instead of only a log line.
    expect(operation.status).toBe('rolled_back');
    expect(await ledger.balance('late-step-revert-refused')).toBeGreaterThan(0);
    expect(operation.facts.billingRevertFailed).toEqual(expect.stringContaining('uncollectible'));
  });
});
