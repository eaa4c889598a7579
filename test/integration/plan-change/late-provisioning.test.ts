/**
 * ProvisionResources is retried on States.Timeout (TimeoutSeconds 300, the Task function's own timeout 330 s), so an
 * attempt that timed out can still run while the retry finds the resources made and the change bills and commits.
 * When that first attempt's provider call returns, its `provisioned` write finds the operation ended (`succeeded`): it
 * must not release the operation's resources then, for the tenant runs on them (reactivation:
 * test/integration/reactivation/late-provisioning.test.ts).
 */
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { requestPlanChange } from '../../../functions/plan-change/plan-change-service';
import { runPlanChangeStep, type KnownFacts, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';
import { LocalProvisioner } from '../../../functions/provisioning/provisioner';
import { getDocumentClient } from '../../../functions/shared/aws-clients';
import { config } from '../../../functions/shared/config';
import { tenantStore } from '../../../functions/tenants/tenant-service';
import { RecordingRunner } from '../../support/recording-runner';
import { installMonthSafeClock } from '../../support/month-safe-clock';
import { useTestTable } from '../../support/test-table';

installMonthSafeClock();
useTestTable();
const runner = new RecordingRunner();
const deps = () => ({ ...planChangeDependencies(), runner });
const provisioner = new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });

afterEach(() => jest.restoreAllMocks());

it('should keep the committed plan\'s resources when a provisioning attempt that timed out returns after the commit', async () => {
  await tenantStore().create({ tenantId: 'late-provision', name: 'late-provision', email: 'late-provision@example.com', plan: 'starter', usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } }, { actor: 'test' });
  const answer = await requestPlanChange(deps(), 'late-provision', { plan: 'professional', dryRun: false, drainTimeoutSeconds: 30 }, 'test');
  const operationId = answer.body.operationId as string;
  const [started] = runner.operations('plan-change', 'late-provision') as unknown as PlanChangeInput[];
  const step = (name: Parameters<typeof runPlanChangeStep>[1], input: PlanChangeInput) => runPlanChangeStep(planChangeDependencies(), name, input);
  const at = (input: PlanChangeInput, known: unknown): PlanChangeInput => ({ ...input, known: known as KnownFacts | null });

  let input = at(started!, await step('startReadOnlyWindow', started!));
  input = at(input, await step('drainQueries', input));

  const real = planChangeDependencies().provisioner;
  const provision = real.provision.bind(real);
  const firstAttempt = input;
  jest.spyOn(real, 'provision').mockImplementationOnce(async (...args) => {
    // Attempt 1 is slow: States.Timeout, the ASL retries ProvisionResources, and the retry, billing and the commit
    // all finish while attempt 1's provider call is still out.
    const retried = at(firstAttempt, await step('provisionResources', firstAttempt));
    const billed = at(retried, await step('updateBilling', retried));
    await step('commitPlan', billed);
    return provision(...args);
  });
  await expect(step('provisionResources', firstAttempt)).rejects.toMatchObject({ name: 'OperationEndedError' });

  expect(await planChangeDependencies().operations.get(operationId)).toMatchObject({ status: 'succeeded' });
  expect(await tenantStore().get('late-provision')).toMatchObject({ state: 'active', plan: 'professional', resources: { provisionedBy: operationId } });
  // The tenant runs on the operation's resources: they must still be there.
  expect((await provisioner.outstanding('late-provision')).map((entry) => entry.operationId)).toEqual([operationId]);
});
