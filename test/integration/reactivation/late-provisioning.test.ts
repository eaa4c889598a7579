/**
 * A reactivation's Provision step is retried on States.Timeout (as the plan change's is), so an attempt that timed
 * out can still be running while the retry provisions and the reactivation completes. When that first attempt's
 * provider call returns, its `provisioned` write finds the operation ended (`succeeded`): it must not release the
 * operation's resources then, for the tenant runs on them (plan change: test/integration/plan-change/late-provisioning.test.ts).
 */
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { requestReactivation } from '../../../functions/reactivation/reactivation-request';
import type { ReactivationInput } from '../../../functions/reactivation/reactivation-definition';
import { runReactivationStep } from '../../../functions/reactivation/reactivation-steps';
import { reactivationDependencies } from '../../../functions/reactivation/reactivation-workflow';
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
const ports = () => ({ ...planChangeDependencies(), runner });
const provisioner = new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });

afterEach(() => jest.restoreAllMocks());

it("should keep the reactivated tenant's resources when a provisioning attempt that timed out returns after the completion", async () => {
  const created = await tenantStore().create({ tenantId: 'late-reprovision', name: 'late-reprovision', email: 'late-reprovision@example.com', plan: 'starter', usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } }, { actor: 'test' });
  await tenantStore().applyTransition(created, 'suspend', { actor: 'test', reason: 'unpaid' });
  const { operationId } = await requestReactivation(ports(), 'late-reprovision', {}, 'operator:winback');
  const [input] = runner.operations('reactivation', 'late-reprovision') as unknown as ReactivationInput[];
  const deps = reactivationDependencies(ports());
  const step = (name: 'begin' | 'bill' | 'provision' | 'complete') => runReactivationStep(deps, { step: name, operation: input! });

  await step('begin');
  await step('bill');
  const real = deps.provisioner;
  const provision = real.provision.bind(real);
  jest.spyOn(real, 'provision').mockImplementationOnce(async (...args) => {
    // Attempt 1 is slow: States.Timeout, the ASL retries Provision, and the retry and the completion finish while
    // attempt 1's provider call is still out.
    await step('provision');
    await step('complete');
    return provision(...args);
  });
  await expect(step('provision')).rejects.toMatchObject({ name: 'OperationEndedError' });

  expect(await deps.operations.get(operationId)).toMatchObject({ status: 'succeeded' });
  expect(await tenantStore().get('late-reprovision')).toMatchObject({ state: 'active', resources: { provisionedBy: operationId } });
  expect((await provisioner.outstanding('late-reprovision')).map((entry) => entry.operationId)).toEqual([operationId]);
});
