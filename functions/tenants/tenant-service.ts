/**
 * What the tenant routes share: the store instance, the tenant as the API shows it, and "apply these
 * lifecycle events on behalf of a caller" with its metrics.
 */
import { allowedEvents } from '../lifecycle/transition';
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import { getDocumentClient } from '../shared/aws-clients';
import { config } from '../shared/config';
import { MetricUnit, metrics } from '../shared/powertools';
import { ApiError } from '../shared/errors';
import { VersionConflictError } from './errors';
import { TenantStore, type ChangeContext, type Tenant } from './tenant-store';

let store: TenantStore | undefined;

/** The tenant store on the configured table, created once per Lambda container. */
export function tenantStore(): TenantStore {
  store ??= new TenantStore({ client: getDocumentClient(), tableName: config.tableName });
  return store;
}

export type TenantView = Tenant & { readonly allowedEvents: LifecycleEvent[] };

export function tenantView(tenant: Tenant): TenantView {
  return { ...tenant, allowedEvents: allowedEvents(tenant.state) };
}

/** Parse an If-Match header (a version number, quoted or not); undefined when absent. */
export function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  const version = Number(ifMatch.replace(/^W\//, '').replace(/"/g, '').trim());
  if (!Number.isInteger(version) || version < 1) {
    throw new ApiError(400, 'INVALID_IF_MATCH', 'If-Match must be the tenant version you read (its ETag), for example "3".');
  }
  return version;
}

/**
 * Read the tenant and apply `events` as one atomic change. With an expected version (If-Match), a tenant that
 * moved on since the caller read it is a conflict even if the event would still be legal.
 */
export async function transitionTenant(
  tenantId: string,
  events: readonly LifecycleEvent[],
  context: ChangeContext,
  version?: number,
): Promise<Tenant> {
  const started = performance.now();
  const tenant = await tenantStore().get(tenantId);
  if (version !== undefined && version !== tenant.version) {
    throw new VersionConflictError(tenantId, version, tenant.version, tenant.state);
  }
  const next = await tenantStore().applyTransitions(tenant, events, context);
  const metric = metrics.singleMetric();
  metric.addDimension('event', events.join('+'));
  metric.addMetric('Transitions', MetricUnit.Count, 1);
  metric.addMetric('TransitionLatency', MetricUnit.Milliseconds, performance.now() - started);
  return next;
}
