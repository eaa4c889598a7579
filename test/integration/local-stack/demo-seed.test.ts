/**
 * The demo seed of `npm start`: a first start stopped half-way through seeding is completed by the next one,
 * and a database with tenants of its own is left alone.
 */
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { config } from '../../../functions/shared/config';
import { createTableInput } from '../../../functions/tenants/tenant-table';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { DEMO_TENANTS, seedDemoTenants } from '../../../infra/local/demo-tenants';
import { ApiHarness } from '../../support/api-harness';

const api = new ApiHarness();
beforeAll(() => api.start());
afterAll(() => api.stop());

async function tenantIds(): Promise<string[]> {
  return (await api.store.listByState(undefined, { limit: 50 })).items.map((tenant) => tenant.tenantId).sort();
}

describe('seedDemoTenants', () => {
  it('should complete a seeding that was stopped half-way, and only once', async () => {
    const [first] = DEMO_TENANTS;
    await api.store.create({ ...first, suspended: undefined } as never, { actor: 'demo-seed' }); // the stop came after the first

    expect(await seedDemoTenants(api.store)).toBe(DEMO_TENANTS.length - 1);
    expect(await tenantIds()).toEqual(DEMO_TENANTS.map((tenant) => tenant.tenantId).sort());
    expect((await api.store.get('suspended-co')).state).toBe('suspended');
    expect(await seedDemoTenants(api.store)).toBe(0);

  });

  it('should leave a database that holds tenants of its own alone', async () => {
    const tableName = `${config.tableName}-own`;
    await api.documentClient.send(new CreateTableCommand(createTableInput(tableName)));
    const store = new TenantStore({ client: api.documentClient, tableName });
    await store.create({ tenantId: 'own-tenant', name: 'Own', email: 'own@example.com', plan: 'free', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 } }, { actor: 'test' });

    expect(await seedDemoTenants(store)).toBe(0);
    expect((await store.listByState(undefined, { limit: 50 })).items.map((tenant) => tenant.tenantId)).toEqual(['own-tenant']);
    await api.documentClient.send(new DeleteTableCommand({ TableName: tableName }));
  });
});
