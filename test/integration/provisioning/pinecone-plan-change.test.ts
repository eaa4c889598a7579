/**
 * The plan-change workflow with the Pinecone provisioner (through the real SDK against a local fake) and its
 * DynamoDB ledger: an upgrade to enterprise moves the tenant's vectors from the pooled namespace to a
 * dedicated index; a failure after the copy rolls back to the pooled original and deletes the copy.
 */
import { planChangeDependencies } from '../../../functions/plan-change/plan-change-deps';
import { requestPlanChange } from '../../../functions/plan-change/plan-change-service';
import { DynamoProvisioningLedger, PineconeProvisioner } from '../../../functions/provisioning/pinecone-provisioner';
import { POOLED_INDEX } from '../../../functions/provisioning/plan-resources';
import { config } from '../../../functions/shared/config';
import { LocalWorkflowRunner, type FaultInjector } from '../../../infra/local/local-workflow-runner';
import { ApiHarness } from '../../support/api-harness';
import { InjectedFault } from '../../support/injected-fault';
import { FakePinecone } from '../../support/fake-pinecone';

const DIMENSION = 4;
const api = new ApiHarness();
const fake = new FakePinecone();
let fault: FaultInjector | undefined;


const provisioner = new PineconeProvisioner({
  pinecone: fake.client(),
  dimension: DIMENSION,
  cloud: 'aws',
  region: 'us-east-1',
  state: new DynamoProvisioningLedger({ client: api.documentClient, tableName: config.tableName }),
  sleep: async () => undefined,
});
const deps = () => ({ ...planChangeDependencies(), provisioner });
const runner = new LocalWorkflowRunner({ dependencies: deps, faults: (state, phase, input) => fault?.(state, phase, input) });

beforeAll(async () => {
  await api.start();
  fake.createIndex(POOLED_INDEX, DIMENSION);
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
});

async function upgrade(tenantId: string) {
  const answer = await requestPlanChange({ ...deps(), runner }, tenantId, { plan: 'enterprise', dryRun: false, drainTimeoutSeconds: 30 }, 'test');
  await runner.idle();
  return deps().operations.get(answer.body.operationId as string);
}

describe('Plan change with the Pinecone provisioner', () => {
  it('should move the vectors to a dedicated index on upgrade to enterprise, and drop the pooled copy after the commit', async () => {
    await api.createTenant('vec-up', { plan: 'professional' });
    fake.seed(POOLED_INDEX, 'tenant_vec-up', 120, DIMENSION);

    const operation = await upgrade('vec-up');

    expect(operation.status).toBe('succeeded');
    expect(fake.vectors('tenant-vec-up', 'tenant_vec-up')?.size).toBe(120);
    expect(fake.vectors(POOLED_INDEX, 'tenant_vec-up')?.size ?? 0).toBe(0);
    expect((await api.store.get('vec-up')).resources).toMatchObject({ plan: 'enterprise', vectors: { kind: 'dedicated', index: 'tenant-vec-up' } });
  });

  it('should keep the pooled original and delete the dedicated copy when billing fails after the copy', async () => {
    await api.createTenant('vec-fail', { plan: 'professional' });
    fake.seed(POOLED_INDEX, 'tenant_vec-fail', 40, DIMENSION);
    fault = (state, phase, input) => {
      if (input.tenantId === 'vec-fail' && state === 'UpdateBilling' && phase === 'before') throw new InjectedFault('card declined');
    };
    try {
      const operation = await upgrade('vec-fail');

      expect(operation.status).toBe('rolled_back');
      expect(fake.vectors(POOLED_INDEX, 'tenant_vec-fail')?.size).toBe(40);
      expect(fake.indexes.has('tenant-vec-fail')).toBe(false);
      expect(await api.store.get('vec-fail')).toMatchObject({ state: 'active', plan: 'professional' });
    } finally {
      fault = undefined;
    }
  });
});
