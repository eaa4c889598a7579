import { InMemoryProvisioningLedger, PineconeProvisioner, mapPineconeError } from '../../../functions/provisioning/pinecone-provisioner';
import { POOLED_INDEX, resourcesFor, type PlanResources } from '../../../functions/provisioning/plan-resources';
import { ProvisioningTransientError } from '../../../functions/provisioning/provisioner';
import type { PlanId } from '../../../functions/plans/plan-catalog';
import { FakePinecone } from '../../support/fake-pinecone';

const DIM = 4;
const TENANT = 'acme';
const NS = `tenant_${TENANT}`;
const DEDICATED = `tenant-${TENANT}`;

function setup(seeded = 250) {
  const fake = new FakePinecone();
  fake.createIndex(POOLED_INDEX, DIM);
  fake.seed(POOLED_INDEX, NS, seeded, DIM);
  fake.seed(POOLED_INDEX, 'tenant_other', 3, DIM);
  const ledger = new InMemoryProvisioningLedger();
  const sleeps: number[] = [];
  const provisioner = new PineconeProvisioner({
    pinecone: fake.client(),
    dimension: DIM,
    cloud: 'aws',
    region: 'us-east-1',
    state: ledger,
    sleep: async (ms) => void sleeps.push(ms),
  });
  return { fake, ledger, provisioner, sleeps };
}

const res = (plan: PlanId, provisionedBy?: string): PlanResources => ({ ...resourcesFor(TENANT, plan), ...(provisionedBy ? { provisionedBy } : {}) });

describe('PineconeProvisioner', () => {
  it('pooled → dedicated: creates the index, copies the namespace page by page, verifies the counts', async () => {
    const { fake, provisioner, ledger } = setup(250);
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('professional', 'op-old'));

    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      host: 'controller.pinecone.fake',
      path: '/indexes',
      body: { name: DEDICATED, dimension: DIM, metric: 'cosine', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } },
    });
    const lists = fake.requests.filter((r) => r.path === '/vectors/list');
    expect(lists.map((r) => [r.host, r.query.namespace?.[0], r.query.limit?.[0], r.query.paginationToken?.[0]])).toEqual([
      [`${POOLED_INDEX}.svc.pinecone.fake`, NS, '100', undefined],
      [`${POOLED_INDEX}.svc.pinecone.fake`, NS, '100', 'doc-0099'],
      [`${POOLED_INDEX}.svc.pinecone.fake`, NS, '100', 'doc-0199'],
    ]);
    const fetches = fake.requests.filter((r) => r.path === '/vectors/fetch');
    expect(fetches.map((r) => [r.query.namespace?.[0], r.query.ids?.length])).toEqual([
      [NS, 100],
      [NS, 100],
      [NS, 50],
    ]);
    const upserts = fake.requests.filter((r) => r.path === '/vectors/upsert');
    expect(upserts.every((r) => r.host === `${DEDICATED}.svc.pinecone.fake` && (r.body as { namespace: string }).namespace === NS)).toBe(true);
    expect(upserts.reduce((n, r) => n + (r.body as { vectors: unknown[] }).vectors.length, 0)).toBe(250);
    expect(fake.requests.filter((r) => r.path === '/describe_index_stats').map((r) => r.host)).toEqual([
      `${POOLED_INDEX}.svc.pinecone.fake`,
      `${DEDICATED}.svc.pinecone.fake`,
    ]);
    // Nothing but the fake hosts was called, and the data really moved (values and metadata intact).
    expect(fake.requests.every((r) => r.host.endsWith('.pinecone.fake'))).toBe(true);
    expect(fake.vectors(DEDICATED, NS)?.get('doc-0007')).toEqual(fake.vectors(POOLED_INDEX, NS)?.get('doc-0007'));
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(250);
    expect(await ledger.get(TENANT, 'op-up')).toMatchObject({ releases: 'index', createdIndex: true, placement: { kind: 'dedicated', index: DEDICATED } });
    expect(await ledger.get(TENANT, 'op-old')).toMatchObject({ releases: 'namespace', placement: { kind: 'pooled', index: POOLED_INDEX } });
  });

  it('retries the count check with backoff, then fails transiently with both counts', async () => {
    const { fake, provisioner, sleeps } = setup(10);
    fake.statsSkew.set(`${DEDICATED}/${NS}`, -2);
    const error = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter', 'op-old')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningTransientError);
    expect((error as Error).message).toContain('(10)');
    expect((error as Error).message).toContain('(8)');
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('passes once eventually consistent counts converge', async () => {
    const { fake, provisioner, sleeps } = setup(10);
    fake.statsSkew.set(`${DEDICATED}/${NS}`, -1);
    const original = fake.handle.bind(fake);
    let statsCalls = 0;
    jest.spyOn(fake, 'handle').mockImplementation(async (input, init) => {
      if (String(input).endsWith('/describe_index_stats') && ++statsCalls === 3) fake.statsSkew.clear();
      return original(input, init);
    });
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter'));
    expect(sleeps).toEqual([1000]);
  });

  it('maps a 503 to ProvisioningTransientError (cause kept) and a 400 to a plain Error', async () => {
    const { fake, provisioner } = setup(10);
    fake.failNext((r) => r.path === '/vectors/upsert', 503);
    const unavailable = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter')).catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(ProvisioningTransientError);
    expect((unavailable as Error).cause).toBeDefined();

    fake.failNext((r) => r.path === '/vectors/list', 429);
    await expect(provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter'))).rejects.toBeInstanceOf(ProvisioningTransientError);

    fake.failNext((r) => r.path === '/vectors/upsert', 400);
    const rejected = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter')).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(Error);
    expect(rejected).not.toBeInstanceOf(ProvisioningTransientError);
    expect((rejected as Error).message).toMatch(/Pinecone refused upserting vectors/);

    // A retry after the failures completes, and the index this operation created is still its own.
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter'));
    expect(fake.vectors(DEDICATED, NS)?.size).toBe(10);
  });

  it('release after a failure deletes only the new copy; the original namespace is intact; twice is a no-op', async () => {
    const { fake, provisioner } = setup(30);
    fake.statsSkew.set(`${DEDICATED}/${NS}`, 5);
    await expect(provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter', 'op-old'))).rejects.toBeInstanceOf(ProvisioningTransientError);
    fake.requests.length = 0;

    await provisioner.release(TENANT, 'op-up');
    expect(fake.log()).toEqual([`DELETE controller.pinecone.fake /indexes/${DEDICATED}`]);
    expect(fake.indexes.has(DEDICATED)).toBe(false);
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(30);

    fake.requests.length = 0;
    await provisioner.release(TENANT, 'op-up');
    expect(fake.requests).toEqual([]);
  });

  it('after a committed upgrade, release(previous op) deletes the old pooled namespace; after a downgrade, the dedicated index', async () => {
    const { fake, provisioner } = setup(30);
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter', 'op-old'));
    fake.requests.length = 0;
    await provisioner.release(TENANT, 'op-old'); // what commitPlan does after the upgrade commits
    // (the pooled index's host is cached by the SDK since the copy)
    expect(fake.log()).toEqual([`POST ${POOLED_INDEX}.svc.pinecone.fake /vectors/delete`]);
    expect(fake.requests[0]?.body).toEqual({ deleteAll: true, namespace: NS });
    expect(fake.vectors(POOLED_INDEX, NS)).toBeUndefined();
    expect(fake.vectors(POOLED_INDEX, 'tenant_other')?.size).toBe(3);
    expect(fake.vectors(DEDICATED, NS)?.size).toBe(30);

    // Downgrade back: copy into the pooled namespace, verify, then release(op-up) drops the dedicated index.
    await provisioner.provision(TENANT, 'op-down', res('professional', 'op-down'), res('enterprise', 'op-up'));
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(30);
    fake.requests.length = 0;
    await provisioner.release(TENANT, 'op-up');
    expect(fake.log()).toEqual([`DELETE controller.pinecone.fake /indexes/${DEDICATED}`]);
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(30);
    await provisioner.release(TENANT, 'op-up');
    expect(fake.requests).toHaveLength(1);
  });

  it('a failed downgrade releases only the pooled copy, never the dedicated original', async () => {
    const { fake, provisioner } = setup(0);
    fake.createIndex(DEDICATED, DIM);
    fake.seed(DEDICATED, NS, 12, DIM);
    fake.failNext((r) => r.path === '/describe_index_stats', 400);
    await expect(provisioner.provision(TENANT, 'op-down', res('starter', 'op-down'), res('enterprise', 'op-up'))).rejects.toThrow(/Pinecone refused/);
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(12);
    await provisioner.release(TENANT, 'op-down');
    expect(fake.vectors(POOLED_INDEX, NS)).toBeUndefined();
    expect(fake.vectors(DEDICATED, NS)?.size).toBe(12);
  });

  it('a plan change that keeps the placement makes no Pinecone call, and its release deletes nothing', async () => {
    const { fake, provisioner } = setup(5);
    await provisioner.provision(TENANT, 'op-pro', res('professional', 'op-pro'), res('starter', 'op-old'));
    await provisioner.release(TENANT, 'op-pro'); // as after a failure
    await provisioner.release(TENANT, 'op-old'); // as after the commit
    expect(fake.requests).toEqual([]);
    expect(fake.vectors(POOLED_INDEX, NS)?.size).toBe(5);
  });

  it('releasing an operation without a record (provisioned before this adapter) does nothing', async () => {
    const { fake, provisioner } = setup(5);
    await provisioner.release(TENANT, 'op-legacy');
    expect(fake.requests).toEqual([]);
  });

  it('an index found already there is not claimed: release empties only its namespace', async () => {
    const { fake, provisioner } = setup(5);
    fake.createIndex(DEDICATED, DIM);
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter'));
    expect(fake.log().slice(0, 2)).toEqual(['POST controller.pinecone.fake /indexes', `GET controller.pinecone.fake /indexes/${DEDICATED}`]);
    await provisioner.release(TENANT, 'op-up');
    expect(fake.indexes.has(DEDICATED)).toBe(true);
    expect(fake.vectors(DEDICATED, NS)).toBeUndefined();
  });

  it('an index found still initializing (an earlier attempt created it) is a transient failure, and the retry uses it once ready', async () => {
    const { fake, provisioner } = setup(5);
    fake.createIndex(DEDICATED, DIM);
    fake.initializing.add(DEDICATED);

    const early = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter')).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(ProvisioningTransientError);
    expect((early as Error).message).toBe(`Index '${DEDICATED}' exists but is not ready yet (state Initializing).`);
    expect(fake.vectors(DEDICATED, NS)).toBeUndefined(); // nothing copied into an index that is not ready

    fake.initializing.delete(DEDICATED);
    await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter'));
    expect(fake.vectors(DEDICATED, NS)?.size).toBe(5);
  });

  it.each([502, 504])('treats an HTTP %i (no SDK class of its own; the SDK gives up retrying it) as transient, not a refusal', async (status) => {
    const { fake, provisioner } = setup(3);
    fake.failNext((r) => r.path === '/vectors/list', status);
    const error = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningTransientError);
    expect((error as Error).message).toMatch(/^Pinecone is unavailable while listing vectors to copy /);
  });

  it('treats another unmapped 4xx as a refusal, not retried', async () => {
    const { fake, provisioner } = setup(3);
    fake.failNext((r) => r.path === '/vectors/upsert', 418);
    const error = await provisioner.provision(TENANT, 'op-up', res('enterprise', 'op-up'), res('starter')).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ProvisioningTransientError);
    expect((error as Error).message).toMatch(/^Pinecone refused upserting vectors copied .*\(PineconeUnmappedHttpError\).*Status: 418/);
  });

  it('keeps a transient error as it is, and words a thrown non-Error as a refusal', () => {
    const transient = new ProvisioningTransientError('already classified');
    expect(mapPineconeError(transient, 'listing vectors')).toBe(transient);
    const refused = mapPineconeError('socket closed', 'listing vectors');
    expect(refused).not.toBeInstanceOf(ProvisioningTransientError);
    expect(refused.message).toBe('Pinecone refused listing vectors (error): socket closed');
  });
});

