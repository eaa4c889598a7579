/**
 * The export's storage from configuration (functions/export/export-deps.ts): with Pinecone configured, the
 * vectors source reads the tenant's namespace through the REAL Pinecone SDK (here against the in-process fake,
 * test/support/fake-pinecone.ts) at the placement the tenant's record says, else the one its plan calls for; the
 * failed export's clean-up needs the export bucket only.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { DataSource } from '../../../functions/data-sources/data-source';
import type { Tenant } from '../../../functions/tenants/tenant-store';
import { FakePinecone } from '../../support/fake-pinecone';

type ExportDeps = typeof import('../../../functions/export/export-deps');
type Ports = typeof import('../../../functions/workflows/ports');

const ENV = {
  TABLE_NAME: 'tenant-lifecycle-test',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_EC2_METADATA_DISABLED: 'true',
  EXPORTS_BUCKET: 'exports-test',
  DOCUMENTS_BUCKET: 'documents-test',
  PINECONE_API_KEY: 'pc-test-key',
  PINECONE_REGION: 'eu-west-1',
};
const saved = { ...process.env };
// The SDK's client class of this file's module registry: the code under test loads the SDK on first use, there.
const secrets = mockClient(SecretsManagerClient);
let fake: FakePinecone;

const tenants: Record<string, Pick<Tenant, 'tenantId' | 'plan' | 'resources'>> = {
  acme: { tenantId: 'acme', plan: 'starter' },
  'acme-corp': { tenantId: 'acme-corp', plan: 'enterprise' },
  // Recorded placement wins over the plan's: a tenant whose downgrade kept it in its dedicated index.
  'acme-eu': {
    tenantId: 'acme-eu',
    plan: 'professional',
    resources: { vectors: { kind: 'dedicated', index: 'tenant-acme-eu', namespace: 'tenant_acme-eu' } } as Tenant['resources'],
  },
};
const tenantStore = {
  get: async (tenantId: string) => {
    const tenant = tenants[tenantId];
    if (!tenant) throw new Error(`no tenant ${tenantId}`);
    return tenant as Tenant;
  },
};

/** The modules fresh (their per-container singletons unset), with `env` on top of ENV. */
function load(env: Record<string, string | undefined> = {}): { deps: ExportDeps; ports: Ports } {
  process.env = { ...saved, ...ENV, ...env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete process.env[name];
  let modules!: { deps: ExportDeps; ports: Ports };
  jest.isolateModules(() => {
    modules = {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ports: require('../../../functions/workflows/ports') as Ports,
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      deps: require('../../../functions/export/export-deps') as ExportDeps,
    };
  });
  return modules;
}

async function vectorsSource(deps: ExportDeps, ports: Ports): Promise<DataSource> {
  const workflowPorts = ports.workflowPorts({ pineconeClient: async () => fake.client() });
  const storage = await deps.exportStorage({ billing: workflowPorts.billing, tenants: tenantStore });
  return storage.sources.find((source) => source.name === 'vectors')!;
}

beforeEach(() => {
  fake = new FakePinecone();
  fake.createIndex('tenants-pooled', 4);
  fake.createIndex('tenant-acme-corp', 4);
  fake.createIndex('tenant-acme-eu', 4);
  fake.seed('tenants-pooled', 'tenant_acme', 5, 4);
  fake.seed('tenants-pooled', 'tenant_acme-corp', 2, 4); // a stale copy: never read for an enterprise tenant
  fake.seed('tenant-acme-corp', 'tenant_acme-corp', 3, 4);
  fake.seed('tenant-acme-eu', 'tenant_acme-eu', 4, 4);
});
afterAll(() => {
  process.env = saved;
  secrets.restore();
});

describe('exportStorage with Pinecone configured', () => {
  it("should export a pooled tenant's vectors from its namespace of the pooled index", async () => {
    const { deps, ports } = load();
    const vectors = await vectorsSource(deps, ports);

    const page = await vectors.exportPage('acme', null, 100);

    expect(page.records.map((record) => record.id)).toEqual(['doc-0000', 'doc-0001', 'doc-0002', 'doc-0003', 'doc-0004']);
    const data = fake.requests.filter((request) => request.host.endsWith('.svc.pinecone.fake'));
    expect(new Set(data.map((request) => request.host))).toEqual(new Set(['tenants-pooled.svc.pinecone.fake']));
    expect(data.every((request) => request.query.namespace?.[0] === 'tenant_acme')).toBe(true);
  });

  it("should export an enterprise tenant's vectors from its dedicated index, not the pooled one", async () => {
    const { deps, ports } = load();
    const vectors = await vectorsSource(deps, ports);

    const page = await vectors.exportPage('acme-corp', null, 100);

    expect(page.records).toHaveLength(3);
    const hosts = new Set(fake.requests.filter((request) => request.host.endsWith('.svc.pinecone.fake')).map((request) => request.host));
    expect(hosts).toEqual(new Set(['tenant-acme-corp.svc.pinecone.fake']));
  });

  it("should follow the placement the tenant's record holds over the one its plan calls for", async () => {
    const { deps, ports } = load();
    const vectors = await vectorsSource(deps, ports);

    expect(await vectors.count('acme-eu')).toBe(4);
    const hosts = new Set(fake.requests.filter((request) => request.host.endsWith('.svc.pinecone.fake')).map((request) => request.host));
    expect(hosts).toEqual(new Set(['tenant-acme-eu.svc.pinecone.fake']));
  });

  it('should make the Pinecone client once, on first use, not when the storage is built', async () => {
    const { deps, ports } = load();
    let made = 0;
    const workflowPorts = ports.workflowPorts({
      pineconeClient: async () => {
        made += 1;
        return fake.client();
      },
    });
    const storage = await deps.exportStorage({ billing: workflowPorts.billing, tenants: tenantStore });
    expect(made).toBe(0);
    const vectors = storage.sources.find((source) => source.name === 'vectors')!;
    await vectors.exportPage('acme', null, 100);
    await vectors.exportPage('acme-corp', null, 100);
    expect(made).toBe(1);
  });
});

describe('exportStorage with the Pinecone key in Secrets Manager (AWS)', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinecone-key-AbCdEf';

  /** The vectors source with Secrets Manager answering `answer`; the keys the Pinecone factory was given, and the GetSecretValue requests sent. */
  async function withSecret(answer: { SecretString: string } | Error) {
    process.env = { ...saved, ...ENV, PINECONE_SECRET_ARN: SECRET_ARN };
    delete process.env.PINECONE_API_KEY;
    const keys: string[] = [];
    let built!: { storage: ReturnType<ExportDeps['exportStorage']>; requests: () => unknown[] };
    secrets.reset();
    if (answer instanceof Error) secrets.on(GetSecretValueCommand).rejects(answer);
    else secrets.on(GetSecretValueCommand).resolves(answer);
    jest.isolateModules(() => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const ports = require('../../../functions/workflows/ports') as Ports;
      const deps = require('../../../functions/export/export-deps') as ExportDeps;
      /* eslint-enable @typescript-eslint/no-require-imports */
      const workflowPorts = ports.workflowPorts({
        pineconeClient: async (options) => {
          keys.push(options.apiKey);
          return fake.client();
        },
      });
      built = {
        storage: deps.exportStorage({ billing: workflowPorts.billing, tenants: tenantStore }),
        requests: () => secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input),
      };
    });
    const vectors = (await built.storage).sources.find((source) => source.name === 'vectors')!;
    return { vectors, keys, requests: built.requests };
  }

  it('should read the key from the secret on first use, once, and make the client with it', async () => {
    const { vectors, keys, requests } = await withSecret({ SecretString: ' pc-from-secret\n' });
    expect(requests()).toEqual([]);

    await vectors.exportPage('acme', null, 100);
    await vectors.exportPage('acme-corp', null, 100);

    expect(keys).toEqual(['pc-from-secret']);
    expect(requests()).toEqual([{ SecretId: SECRET_ARN }]);
  });

  it('should fail with the error the export workflow retries when the secret cannot be read', async () => {
    const { vectors, keys } = await withSecret(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    await expect(vectors.count('acme')).rejects.toMatchObject({ name: 'ExportStorageTransientError', message: 'Could not read the Pinecone API key from Secrets Manager: Rate exceeded' });
    expect(keys).toEqual([]);
  });
});

describe('exportBucket', () => {
  it("should give a failed export's clean-up the export bucket without needing the documents bucket or Pinecone", async () => {
    const { deps } = load({ DOCUMENTS_BUCKET: undefined, PINECONE_API_KEY: undefined, PINECONE_REGION: undefined });
    const bucket = await deps.exportBucket();
    expect(bucket.bucket).toBe('exports-test');
  });

  it('should name the missing variable when the export bucket is not configured', async () => {
    const { deps } = load({ EXPORTS_BUCKET: undefined });
    await expect(deps.exportBucket()).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringContaining('EXPORTS_BUCKET') });
  });
});
