/** The four demo tenants of the course notebook, seeded into a fresh local stack. */
import type { NewTenant, TenantStore } from '../../functions/tenants/tenant-store';
import { S3VectorStore } from '../../functions/data-sources/s3-vector-store';
import { putDocument } from '../../functions/data-sources/tenant-documents';
import { LOCAL_DOCUMENTS_BUCKET } from './local-settings';
import { localS3ClientConfig } from './s3-local';

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

/** Dimensions of the demo vectors: those of OpenAI's text-embedding-3-small, a common choice. */
export const DEMO_VECTOR_DIMENSION = 1536;

/** The documents a demo tenant has: a few short notes, as an application would store them. */
export function demoDocuments(tenantId: string, name: string): Array<{ key: string; body: string; contentType: string }> {
  return [
    { key: 'handbook/welcome.md', body: `# Welcome to ${name}\n\nOnboarding notes for new users of ${tenantId}.\n`, contentType: 'text/markdown; charset=utf-8' },
    { key: 'handbook/security.md', body: `# Security at ${name}\n\nRotate API keys every 90 days.\n`, contentType: 'text/markdown; charset=utf-8' },
    { key: 'reports/2026-q3.json', body: JSON.stringify({ tenant: tenantId, quarter: '2026-Q3', queries: 1200 }), contentType: 'application/json' },
  ];
}

/** A deterministic unit-length embedding for a demo chunk (a seeded sine, not a model's output). */
function demoEmbedding(seed: number): number[] {
  const values = Array.from({ length: DEMO_VECTOR_DIMENSION }, (_, d) => Math.sin(seed * 7.13 + d * 0.37));
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

/**
 * Give the demo tenants their documents (under `tenants/<id>/` of the documents bucket) with one chunk's vector
 * each (id `<name>#0`, in the local vector store), on the local S3 server at `s3Endpoint`, written as the
 * application writes them (putDocument): what is there is replaced.
 */
export async function seedDemoContent(s3Endpoint: string): Promise<void> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client(localS3ClientConfig(s3Endpoint));
  const deps = { s3: () => s3, documents: { bucket: LOCAL_DOCUMENTS_BUCKET }, vectorStore: new S3VectorStore({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET }) };
  try {
    for (const [t, tenant] of DEMO_TENANTS.entries()) {
      for (const [d, document] of demoDocuments(tenant.tenantId as string, tenant.name).entries()) {
        await putDocument(deps, tenant.tenantId as string, { name: document.key, body: document.body, contentType: document.contentType, chunks: [{ values: demoEmbedding(t * 10 + d) }] });
      }
    }
  } finally {
    s3.destroy();
  }
}
