/**
 * What the tenant routes share: the store instance, the tenant as the API shows it, and "apply these
 * lifecycle events on behalf of a caller" with its latency metric.
 */
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import { getDocumentClient } from '../shared/aws-clients';
import { config } from '../shared/config';
import { MetricUnit, publishMetrics } from '../shared/powertools';
import { acceptedEvents } from './tenant-rules';
import { TenantStore, type ChangeContext, type Tenant } from './tenant-store';

let store: TenantStore | undefined;

/** The tenant store on the configured table, created once per Lambda container. */
export function tenantStore(): TenantStore {
  store ??= new TenantStore({ client: getDocumentClient(), tableName: config.tableName });
  return store;
}

export type TenantView = Tenant & { readonly allowedEvents: LifecycleEvent[] };

/** The tenant as the API shows it, with the events the API would accept for it now. */
export function tenantView(tenant: Tenant): TenantView {
  return { ...tenant, allowedEvents: acceptedEvents(tenant) };
}

/**
 * Read the tenant and apply `events` as one atomic change. With an expected version (If-Match), a tenant that
 * moved on since the caller read it is a conflict even if the event would still be legal.
 */
export async function transitionTenant(
  tenantId: string,
  events: readonly LifecycleEvent[],
  context: ChangeContext,
  expectedVersion?: number,
): Promise<Tenant> {
  const started = performance.now();
  const tenant = await tenantStore().get(tenantId, { expectedVersion });
  const next = await tenantStore().applyTransitions(tenant, events, context);
  // The store counts the transitions themselves (Transitions); this is the request's time to apply them.
  publishMetrics([{ event: events.join('+') }], [{ name: 'TransitionLatency', unit: MetricUnit.Milliseconds, value: performance.now() - started }]);
  return next;
}
