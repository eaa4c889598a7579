import { IllegalTransitionError, LifecycleInvariantError } from '../lifecycle/errors';
import type { TenantState } from '../lifecycle/lifecycle-table';
import { registerHttpError } from '../shared/error-catalogue';

/** Base class of the tenant store's failures. */
export class TenantStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TenantStoreError';
  }
}

export class TenantNotFoundError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'TENANT_NOT_FOUND' as const;
  readonly tenantId: string;
  constructor(tenantId: string) {
    super(`Tenant '${tenantId}' does not exist.`);
    this.name = 'TenantNotFoundError';
    this.tenantId = tenantId;
  }
}

export class TenantAlreadyExistsError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'TENANT_EXISTS' as const;
  readonly tenantId: string;
  constructor(tenantId: string) {
    super(`Tenant '${tenantId}' already exists.`);
    this.name = 'TenantAlreadyExistsError';
    this.tenantId = tenantId;
  }
}

/** The tenant changed since it was read: someone else's transition won. */
export class VersionConflictError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'VERSION_CONFLICT' as const;
  readonly tenantId: string;
  readonly expectedVersion: number;
  readonly currentVersion: number;
  readonly currentState: TenantState;
  /** `what`, when given, says what changed instead of the version (a usage report, which keeps the version). */
  constructor(tenantId: string, expectedVersion: number, currentVersion: number, currentState: TenantState, what?: string) {
    super(
      `Tenant '${tenantId}' changed concurrently: ${what ?? `expected version ${expectedVersion}, it is now version ${currentVersion} in state '${currentState}'`}. Read it again and retry if still wanted.`,
    );
    this.name = 'VersionConflictError';
    this.tenantId = tenantId;
    this.expectedVersion = expectedVersion;
    this.currentVersion = currentVersion;
    this.currentState = currentState;
  }
}

/** A pagination cursor that this store did not issue for this query. */
export class InvalidCursorError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'INVALID_CURSOR' as const;
  constructor() {
    super('The cursor is not valid for this query: pass back the nextCursor of the previous page unchanged.');
    this.name = 'InvalidCursorError';
  }
}

/** A transitional state is owned by one operation; only that operation may move the tenant out of it. */
export class OperationOwnershipError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'OPERATION_IN_PROGRESS' as const;
  readonly tenantId: string;
  readonly state: TenantState;
  readonly ownerOperationId: string;
  constructor(tenantId: string, state: TenantState, ownerOperationId: string) {
    super(`Tenant '${tenantId}' is '${state}', owned by operation '${ownerOperationId}'; wait for that operation to finish.`);
    this.name = 'OperationOwnershipError';
    this.tenantId = tenantId;
    this.state = state;
    this.ownerOperationId = ownerOperationId;
  }
}

/** A plan change is already scheduled for the tenant: another one would fight it over the same subscription. */
export class PlanChangeScheduledError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'PLAN_CHANGE_SCHEDULED' as const;
  readonly tenantId: string;
  readonly scheduled: { readonly operationId: string; readonly plan: string; readonly effectiveAt: string };
  constructor(tenantId: string, scheduled: { readonly operationId: string; readonly plan: string; readonly effectiveAt: string }) {
    super(
      `Tenant '${tenantId}' has a change to ${scheduled.plan} scheduled for ${scheduled.effectiveAt} (operation ${scheduled.operationId}); cancel it first with DELETE /tenants/${tenantId}/scheduled-plan-change.`,
    );
    this.name = 'PlanChangeScheduledError';
    this.tenantId = tenantId;
    this.scheduled = scheduled;
  }
}

/**
 * A measurement of a tenant the access policy blocks (soft-deleted, deleted, or coming back from either): there
 * is nothing to measure, and recording it would write to a tenant whose data is going or gone.
 */
export class UsageRefusedError extends TenantStoreError {
  /** The stable code the API answers with. */
  readonly code = 'TENANT_BLOCKED' as const;
  readonly tenantId: string;
  readonly state: TenantState;
  constructor(tenantId: string, state: TenantState, why: string) {
    super(`Tenant '${tenantId}' is '${state}': ${why} Its usage reports are not recorded.`);
    this.name = 'UsageRefusedError';
    this.tenantId = tenantId;
    this.state = state;
  }
}

// The API's answers to the tenant store's errors, and to the lifecycle's (whose every caller is a tenant change).
registerHttpError(IllegalTransitionError, {
  status: 409,
  details: (error) => ({ currentState: error.state, event: error.event, allowedEvents: error.allowedEvents }),
});
registerHttpError(LifecycleInvariantError, {
  status: 500,
  message: () => 'The tenant record is inconsistent; an operator has been alerted.',
});
registerHttpError(VersionConflictError, {
  status: 409,
  details: (error) => ({ expectedVersion: error.expectedVersion, currentVersion: error.currentVersion, currentState: error.currentState }),
});
registerHttpError(PlanChangeScheduledError, { status: 409, details: (error) => ({ scheduledPlanChange: error.scheduled }) });
registerHttpError(OperationOwnershipError, { status: 409, details: (error) => ({ currentState: error.state, operationId: error.ownerOperationId }) });
registerHttpError(TenantNotFoundError, { status: 404, details: (error) => ({ tenantId: error.tenantId }) });
registerHttpError(TenantAlreadyExistsError, { status: 409, details: (error) => ({ tenantId: error.tenantId }) });
registerHttpError(InvalidCursorError, { status: 400 });
registerHttpError(UsageRefusedError, { status: 409, details: (error) => ({ currentState: error.state }) });
