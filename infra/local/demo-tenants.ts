/** The four demo tenants of the course notebook, seeded into a fresh local stack. */
import type { NewTenant, TenantStore } from '../../functions/tenants/tenant-store';

export const DEMO_TENANTS: readonly (NewTenant & { readonly suspended?: string })[] = [
  // Usage fits even the free plan: the notebook's "valid downgrade".
  { tenantId: 'acme-corp', name: 'Acme Corp', email: 'admin@acme.example', plan: 'starter', usage: { queriesPerMonth: 80, storageGb: 0.05, documents: 40, users: 2 } },
  { tenantId: 'techstart-inc', name: 'TechStart Inc', email: 'founders@techstart.example', plan: 'free', usage: { queriesPerMonth: 35, storageGb: 0.02, documents: 12, users: 1 } },
  // Exceeds every starter limit: the notebook's "blocked downgrade" (users: 25 exceeds the starter limit of 10).
  { tenantId: 'enterprise-solutions', name: 'Enterprise Solutions', email: 'it@enterprise-solutions.example', plan: 'professional', usage: { queriesPerMonth: 60_000, storageGb: 30, documents: 20_000, users: 25 } },
  { tenantId: 'suspended-co', name: 'Suspended Co', email: 'billing@suspended.example', plan: 'starter', usage: { queriesPerMonth: 900, storageGb: 0.8, documents: 300, users: 4 }, suspended: 'invoice.payment_failed: card declined (demo seed)' },
];

/**
 * Create the demo tenants that are missing, while the database holds nothing but demo tenants: a first start
 * stopped half-way through seeding is completed by the next one, and a database with tenants of its own is
 * left alone. Answers how many were created.
 */
export async function seedDemoTenants(store: TenantStore): Promise<number> {
  const existing = await store.listByState(undefined, { limit: DEMO_TENANTS.length + 1 });
  const demoIds = new Set(DEMO_TENANTS.map((tenant) => tenant.tenantId));
  if (existing.items.some((tenant) => !demoIds.has(tenant.tenantId)) || existing.nextCursor) return 0;
  const present = new Set(existing.items.map((tenant) => tenant.tenantId));
  let created = 0;
  for (const { suspended, ...tenant } of DEMO_TENANTS) {
    if (present.has(tenant.tenantId as string)) continue;
    const made = await store.create(tenant, { actor: 'demo-seed', reason: 'Demo tenant from the course notebook' });
    if (suspended) await store.applyTransition(made, 'suspend', { actor: 'demo-seed', reason: suspended });
    created += 1;
  }
  return created;
}
