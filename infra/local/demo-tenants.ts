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

export async function seedDemoTenants(store: TenantStore): Promise<void> {
  for (const { suspended, ...tenant } of DEMO_TENANTS) {
    const created = await store.create(tenant, { actor: 'demo-seed', reason: 'Demo tenant from the course notebook' });
    if (suspended) await store.applyTransition(created, 'suspend', { actor: 'demo-seed', reason: suspended });
  }
}
