/**
 * A query lease is refused exactly when the access policy (functions/lifecycle/access-policy.ts) blocks the
 * tenant: one rule, asked of the lifecycle module, not restated by the lease store. Tenants coming back from
 * deletion (`reactivating` from `deleted` or from `deleting`) are blocked by the policy until they are active,
 * so no query may run on data that is being restored.
 */
import { accessFor } from '../../../functions/lifecycle/access-policy';
import type { LifecycleEvent } from '../../../functions/lifecycle/lifecycle-table';
import { LeaseRefusedError } from '../../../functions/leases/errors';
import { QueryLeaseStore } from '../../../functions/leases/query-lease-store';
import { config } from '../../../functions/shared/config';
import { ApiHarness } from '../../support/api-harness';

const api = new ApiHarness();
const leases = () => new QueryLeaseStore({ client: api.documentClient, tableName: config.tableName });
const context = { actor: 'operator@test', reason: 'lease access rule', operationId: 'op-lease-rule' };

beforeAll(() => api.start());
afterAll(() => api.stop());

/** A tenant taken through `events` from a fresh `active` one. */
async function tenantThrough(tenantId: string, events: readonly LifecycleEvent[]) {
  let tenant = await api.store.create({ tenantId, name: tenantId, email: `ops@${tenantId}.test`, plan: 'starter', usage: { queriesPerMonth: 0, storageGb: 0, documents: 0, users: 1 } }, context);
  for (const event of events) tenant = await api.store.applyTransition(tenant, event, context);
  return tenant;
}

describe('QueryLeaseStore.acquire: asks the access policy', () => {
  it.each<[string, LifecycleEvent[]]>([
    ['reactivating from deleted', ['initiate_deletion', 'complete_deletion', 'reactivate_deleted']],
    ['reactivating from deleting (deletion cancelled)', ['initiate_deletion', 'cancel_deletion']],
    ['deleting', ['initiate_deletion']],
  ])('should refuse a lease to a tenant %s, which the access policy blocks', async (name, events) => {
    // Prepare
    const tenantId = `lease-rule-${name.replace(/[^a-z]+/g, '-').replace(/-+$/, '')}`;
    const tenant = await tenantThrough(tenantId, events);
    expect(accessFor(tenant).access).toBe('blocked');

    // Act
    const acquired = leases().acquire(tenantId, { holder: 'search-api' });

    // Assess
    await expect(acquired).rejects.toBeInstanceOf(LeaseRefusedError);
    await expect(acquired).rejects.toMatchObject({ reason: 'blocked', state: tenant.state });
    expect(await leases().liveLeases(tenantId)).toEqual([]);
  });

  it.each<[string, LifecycleEvent[]]>([
    ['active', []],
    ['suspended (read-only, reads still allowed)', ['suspend']],
    ['reactivating from suspended', ['suspend', 'resume']],
    ['exporting from active', ['initiate_export']],
  ])('should grant a lease to a tenant %s, which the access policy does not block', async (name, events) => {
    // Prepare
    const tenantId = `lease-ok-${name.replace(/[^a-z]+/g, '-').replace(/-+$/, '')}`;
    const tenant = await tenantThrough(tenantId, events);
    expect(accessFor(tenant).access).not.toBe('blocked');

    // Act
    const lease = await leases().acquire(tenantId, { holder: 'search-api' });

    // Assess
    expect((await leases().liveLeases(tenantId)).map((live) => live.leaseId)).toEqual([lease.leaseId]);
  });
});
