import { PLAN_IDS, comparePlans, planCatalog, usageViolations } from '../../../functions/plans/plan-catalog';

describe('Module: plan catalog', () => {
  it('orders the plans free < starter < professional < enterprise', () => {
    expect(PLAN_IDS).toEqual(['free', 'starter', 'professional', 'enterprise']);
    expect(comparePlans('free', 'starter')).toBe('upgrade');
    expect(comparePlans('enterprise', 'professional')).toBe('downgrade');
    expect(comparePlans('starter', 'starter')).toBe('same');
  });

  it('attaches configured Stripe price ids and none to unconfigured plans', () => {
    const catalog = planCatalog({ starter: 'price_123' });
    expect(catalog.starter.stripePriceId).toBe('price_123');
    expect(catalog.professional.stripePriceId).toBeNull();
    expect(catalog.enterprise.limits.users).toBe(-1);
  });

  it('lists every metric over the new limit, with an operator-readable message', () => {
    const violations = usageViolations({ queriesPerMonth: 60_000, storageGb: 30, documents: 20_000, users: 25 }, 'starter');
    expect(violations.map((v) => v.message)).toEqual([
      'queriesPerMonth: 60000 exceeds the starter limit of 10000',
      'storageGb: 30 exceeds the starter limit of 5',
      'documents: 20000 exceeds the starter limit of 5000',
      'users: 25 exceeds the starter limit of 10',
    ]);
  });

  it('treats -1 as unlimited and usage equal to the limit as fitting', () => {
    expect(usageViolations({ queriesPerMonth: 10 ** 9, storageGb: 10 ** 6, documents: 10 ** 9, users: 10 ** 5 }, 'enterprise')).toEqual([]);
    expect(usageViolations({ queriesPerMonth: 10_000, storageGb: 5, documents: 5_000, users: 10 }, 'starter')).toEqual([]);
  });
});
