import type { LifecycleEvent, TenantState } from './lifecycle-table';

/** Base class of every lifecycle rule violation. */
export class LifecycleError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LifecycleError';
  }
}

/** The event is not allowed from the tenant's current state. */
export class IllegalTransitionError extends LifecycleError {
  /** The stable code the API answers with. */
  readonly code = 'ILLEGAL_TRANSITION' as const;
  readonly state: TenantState;
  readonly event: LifecycleEvent;
  readonly allowedEvents: readonly LifecycleEvent[];

  constructor(state: TenantState, event: LifecycleEvent, allowedEvents: readonly LifecycleEvent[]) {
    super(
      `Event '${event}' is not allowed while the tenant is '${state}'. ` +
        (allowedEvents.length > 0 ? `Allowed from '${state}': ${allowedEvents.join(', ')}.` : `No event is allowed from '${state}'.`),
    );
    this.name = 'IllegalTransitionError';
    this.state = state;
    this.event = event;
    this.allowedEvents = allowedEvents;
  }
}

/** A stored tenant that breaks a lifecycle invariant (for example `exporting` without its origin state). */
export class LifecycleInvariantError extends LifecycleError {
  /** The stable code the API answers with. */
  readonly code = 'LIFECYCLE_INVARIANT_BROKEN' as const;
  constructor(message: string) {
    super(message);
    this.name = 'LifecycleInvariantError';
  }
}
