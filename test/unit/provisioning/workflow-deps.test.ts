import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { countLoads } from '../../support/module-loads';

const PINECONE_ENV = { PINECONE_API_KEY: 'pcsk_test', PINECONE_REGION: 'us-east-1', PINECONE_CONTROLLER_URL: 'http://127.0.0.1:9' };

describe('Function: workflowDependencies', () => {
  const saved = { ...process.env };

  beforeEach(() => {
    Object.assign(process.env, PINECONE_ENV);
  });

  afterEach(() => {
    for (const name of Object.keys(PINECONE_ENV)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('should load the Pinecone SDK only when provisioning first needs it, not when the workflow function starts (cold start)', async () => {
    await jest.isolateModulesAsync(async () => {
      // Prepare: count the loads of the SDK in a fresh module registry; no provisioning is recorded for the operation
      const loads = countLoads('@pinecone-database/pinecone');
      // (the document client of this registry, which the functions use)
      const { DynamoDBDocumentClient, GetCommand } = jest.requireActual<typeof import('@aws-sdk/lib-dynamodb')>('@aws-sdk/lib-dynamodb');
      const documentClient = mockClient(DynamoDBDocumentClient);
      documentClient.on(GetCommand).resolves({});
      const { workflowDependencies } = jest.requireActual<typeof import('../../../functions/workflows/workflow-deps')>(
        '../../../functions/workflows/workflow-deps',
      );

      // Act
      const provisioner = workflowDependencies().provisioner;
      const loadsBeforeFirstCall = loads();
      await provisioner.release('acme-corp', 'op-1');
      await provisioner.release('acme-corp', 'op-2');

      // Assess: the Pinecone adapter, its SDK loaded once, at the first call, which read the provisioning ledger
      expect(provisioner.name).toBe('pinecone');
      expect([loadsBeforeFirstCall, loads()]).toEqual([0, 1]);
      expect(documentClient).toHaveReceivedCommandTimes(GetCommand, 2);
      documentClient.restore();
    });
  });
});
