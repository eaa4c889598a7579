import { accessFor } from '../../../functions/lifecycle';

describe('Function: accessFor', () => {
  it.each([
    [{ state: 'active' }, 'read_write'],
    [{ state: 'upgrading' }, 'read_write'],
    [{ state: 'upgrading', readOnlyReason: 'Migrating vectors to a dedicated index.' }, 'read_only'],
    [{ state: 'suspended' }, 'read_only'],
    [{ state: 'exporting', origin: 'active' }, 'read_write'],
    [{ state: 'exporting', origin: 'suspended' }, 'read_only'],
    [{ state: 'deleting' }, 'blocked'],
    [{ state: 'deleted' }, 'blocked'],
    [{ state: 'reactivating', origin: 'suspended' }, 'read_only'],
    [{ state: 'reactivating', origin: 'deleted' }, 'blocked'],
  ] as const)('answers %j with %s', (tenant, access) => {
    const decision = accessFor(tenant);
    expect(decision.access).toBe(access);
    expect(decision.reason.length).toBeGreaterThan(10);
  });

  it('gives the read-only window reason verbatim', () => {
    expect(accessFor({ state: 'downgrading', readOnlyReason: 'Plan migration window.' }).reason).toBe('Plan migration window.');
  });
});
