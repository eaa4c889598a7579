/**
 * What a request may do to a tenant in its current situation: the lifecycle table (asked, not restated), plus
 * what the table cannot see: a transitional state owned by a running operation, a plan change scheduled for
 * the period end, and the plans there are to move to. The one place that says why a change is refused, used
 * before a write (the routes), after a lost conditional write (the store's conflict explainer, with the item
 * the winner left) and for `allowedEvents` (every event that no refusal stops).
 */
import { ROUTES } from '../api/routes';
import { IllegalTransitionError } from '../lifecycle/errors';
import { LIFECYCLE_EVENTS, isTransitional, type LifecycleEvent } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';
import { PLAN_CHANGE_WORKFLOW } from '../plan-change/plan-change-definition';
import { PLAN_IDS, comparePlans, usageViolations, type PlanId } from '../plans/plan-catalog';
import { OperationOwnershipError, PlanChangeScheduledError } from './errors';
import type { Tenant } from './tenant-store';

/** The events that start a plan change (its registry entry's): refused while another change is scheduled. */
const PLAN_CHANGE_EVENTS: ReadonlySet<LifecycleEvent> = new Set(PLAN_CHANGE_WORKFLOW.events.initiates);

/** The part of a tenant the rules read. */
export type TenantSituation = Pick<Tenant, 'tenantId' | 'state' | 'plan' | 'usage'> & Partial<Pick<Tenant, 'operationId' | 'scheduledPlanChange'>>;

/** The lifecycle events some API route requests (the route table's `events`), in lifecycle table order. */
const ROUTE_EVENTS: ReadonlySet<LifecycleEvent> = new Set(ROUTES.flatMap((route) => route.events ?? []));
export const API_EVENTS: readonly LifecycleEvent[] = LIFECYCLE_EVENTS.filter((event) => ROUTE_EVENTS.has(event));

/**
 * Why `event` (requested on behalf of operation `operationId`, if any) cannot happen to `tenant` now, or
 * undefined when nothing stands in its way: OperationOwnershipError (a running operation owns the tenant's
 * state; 409 OPERATION_IN_PROGRESS naming it), IllegalTransitionError (the table forbids it from this state;
 * its allowed events are those the API would accept now), PlanChangeScheduledError (a plan change while
 * another one is scheduled, other than that change starting).
 */
export function refusalOf(tenant: TenantSituation, event: LifecycleEvent, operationId?: string): Error | undefined {
  const owner = ownerRefusal(tenant, operationId);
  if (owner) return owner;
  if (!canTransition(tenant.state, event)) return new IllegalTransitionError(tenant.state, event, acceptedEvents(tenant));
  const scheduled = tenant.scheduledPlanChange;
  if (scheduled && PLAN_CHANGE_EVENTS.has(event) && scheduled.operationId !== operationId) {
    return new PlanChangeScheduledError(tenant.tenantId, scheduled);
  }
  return undefined;
}

/**
 * OperationOwnershipError when a running operation other than `operationId` owns the tenant's transitional
 * state: any request but that operation's own steps is refused with it (409 OPERATION_IN_PROGRESS).
 */
export function ownerRefusal(tenant: TenantSituation, operationId?: string): OperationOwnershipError | undefined {
  if (isTransitional(tenant.state) && tenant.operationId !== undefined && tenant.operationId !== operationId) {
    return new OperationOwnershipError(tenant.tenantId, tenant.state, tenant.operationId);
  }
  return undefined;
}

/** The plans a plan-change event could move the tenant to now: higher ones, or lower ones its usage fits. */
export function targetPlans(tenant: TenantSituation, event: 'initiate_upgrade' | 'initiate_downgrade'): PlanId[] {
  const direction = event === 'initiate_upgrade' ? 'upgrade' : 'downgrade';
  return PLAN_IDS.filter((plan) => comparePlans(tenant.plan, plan) === direction && (direction === 'upgrade' || usageViolations(tenant.usage, plan).length === 0));
}

/**
 * The events the API would accept for this tenant now: those a route requests, that no refusal stops, and,
 * for a plan change, with a plan to go to.
 */
export function acceptedEvents(tenant: TenantSituation): LifecycleEvent[] {
  return API_EVENTS.filter((event) => {
    if (!canTransition(tenant.state, event)) return false;
    if (refusalOf(tenant, event) !== undefined) return false;
    return !(event === 'initiate_upgrade' || event === 'initiate_downgrade') || targetPlans(tenant, event).length > 0;
  });
}
