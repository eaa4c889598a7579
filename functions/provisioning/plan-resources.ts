/**
 * What "provisioning a plan's resources" means: the quotas the application plane enforces, the request rate,
 * and where the tenant's vectors live (a namespace in the shared pooled index, or a dedicated index for
 * enterprise). The tenant item records what is provisioned, so a rollback knows what to restore.
 */
import { PLAN_LIMITS, type PlanId, type PlanLimits } from '../plans/plan-catalog';

export type VectorPlacement =
  | { readonly kind: 'pooled'; readonly index: string; readonly namespace: string }
  | { readonly kind: 'dedicated'; readonly index: string; readonly namespace: string };

export interface PlanResources {
  readonly plan: PlanId;
  readonly limits: PlanLimits;
  /** Steady requests per second the API tier allows (an API Gateway usage plan on AWS). */
  readonly requestsPerSecond: number;
  readonly vectors: VectorPlacement;
  /** The operation that provisioned these resources (what to release when they are replaced). */
  readonly provisionedBy?: string;
}

export const POOLED_INDEX = 'tenants-pooled';
const REQUESTS_PER_SECOND: Readonly<Record<PlanId, number>> = { free: 2, starter: 10, professional: 50, enterprise: 200 };

/** The resources a plan calls for; pure. Pinecone namespaces are `tenant_<id>` (DESIGN.md). */
export function resourcesFor(tenantId: string, plan: PlanId): PlanResources {
  const namespace = `tenant_${tenantId}`;
  return {
    plan,
    limits: PLAN_LIMITS[plan],
    requestsPerSecond: REQUESTS_PER_SECOND[plan],
    vectors: plan === 'enterprise' ? { kind: 'dedicated', index: `tenant-${tenantId}`, namespace } : { kind: 'pooled', index: POOLED_INDEX, namespace },
  };
}

/** Moving between pooled and dedicated placement is a data migration (copy, verify, switch, clean up). */
export function needsMigration(from: PlanResources, to: PlanResources): boolean {
  return from.vectors.kind !== to.vectors.kind || from.vectors.index !== to.vectors.index;
}
