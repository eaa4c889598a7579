import { IllegalTransitionError, LifecycleInvariantError } from './errors';
import {
  LIFECYCLE_EVENTS,
  LIFECYCLE_TABLE,
  ORIGIN,
  ORIGIN_TRACKING_STATES,
  type LifecycleEvent,
  type TenantState,
} from './lifecycle-table';

/** The part of a tenant the lifecycle reads: its state and, in exporting/reactivating, where it came from. */
export interface LifecycleSnapshot {
  readonly state: TenantState;
  readonly origin?: TenantState;
}

/** Events legal from a state, in table order. */
export function allowedEvents(state: TenantState): LifecycleEvent[] {
  return LIFECYCLE_EVENTS.filter((event) => (LIFECYCLE_TABLE[event].from as readonly TenantState[]).includes(state));
}

export function canTransition(state: TenantState, event: LifecycleEvent): boolean {
  return (LIFECYCLE_TABLE[event].from as readonly TenantState[]).includes(state);
}

/**
 * The next lifecycle snapshot after `event`, or an {@link IllegalTransitionError}. Pure: no I/O, no clock.
 */
export function transition(tenant: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot {
  const rule = LIFECYCLE_TABLE[event];
  if (!canTransition(tenant.state, event)) {
    throw new IllegalTransitionError(tenant.state, event, allowedEvents(tenant.state));
  }
  let next: TenantState;
  if (rule.to === ORIGIN) {
    if (tenant.origin === undefined) {
      throw new LifecycleInvariantError(`Tenant in '${tenant.state}' has no recorded origin state to return to.`);
    }
    next = tenant.origin;
  } else {
    next = rule.to;
  }
  return ORIGIN_TRACKING_STATES.includes(next) ? { state: next, origin: tenant.state } : { state: next };
}
