/**
 * POST /tenants/{id}/reactivate: validate a reactivation, decide its path, and start its workflow (the tenant's
 * initiating event and the operation record in one transaction, then the execution named after the operation).
 *
 * The path follows the tenant's state and `restoreData` (default true):
 * - `suspended`: `resume`, its data as it was (`restoreData: false` is refused: soft-delete it first);
 * - `deleting` within retention: `restore` (its data as kept) or `fresh_start` (purged first, with a certificate);
 *   the same rule as cancelling the soft delete decides whether it still may (soft-delete.ts
 *   softDeleteIrreversibility: not past retention, no hard delete begun or running);
 * - `deleted`: `fresh_start` only; asking to restore is 409 DATA_DELETED with when the data was deleted. Its name,
 *   email and plan were erased with it, so the request gives them again.
 *
 * A plan given must exist; on `resume` and `restore` the tenant's usage must fit it (422 USAGE_EXCEEDS_PLAN with
 * every violation, as downgrades are refused). Which lifecycle event starts it is the lifecycle table's answer
 * (the one event into `reactivating` from the tenant's state).
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import { softDeleteIrreversibility } from '../deletion/soft-delete';
import { LIFECYCLE_EVENTS, LIFECYCLE_TABLE, type LifecycleEvent } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';
import type { OperationStore } from '../operations/operation-store';
import { usageViolations, type PlanId } from '../plans/plan-catalog';
import { registerHttpError } from '../shared/error-catalogue';
import { VersionConflictError } from '../tenants/errors';
import { ownerRefusal, refusalOf } from '../tenants/tenant-rules';
import type { Tenant, TenantStore } from '../tenants/tenant-store';
import { startOrUndo } from '../workflows/start-execution';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import { REACTIVATING, REACTIVATION_ORIGINS, REACTIVATION_WORKFLOW, type ReactivationInput, type ReactivationOrigin, type ReactivationPath } from './reactivation-definition';
import type { ReactivateBody } from './reactivation-schemas';

/** The refusals of a reactivation request, by stable code, with the HTTP status each answers with. */
export const REACTIVATION_REQUEST_ERRORS = {
  /** `restoreData: false` for a suspended tenant: its data is not purged by a resume. */
  FRESH_START_UNAVAILABLE: 422,
  /** The tenant is in no state a reactivation starts from (active; a transitional state without an owner). */
  NOT_REACTIVATABLE: 409,
  /** A deleted tenant asked to restore: its data is gone (when, in the message and details). */
  DATA_DELETED: 409,
  /** A deleted tenant's fresh start without the contact details or plan its deletion erased. */
  DETAILS_REQUIRED: 422,
  /** Name or email given where they are kept already (not a deleted tenant). */
  DETAILS_NOT_ACCEPTED: 422,
  USAGE_EXCEEDS_PLAN: 422,
  WORKFLOW_UNAVAILABLE: 503,
} as const;
export type ReactivationRequestErrorCode = keyof typeof REACTIVATION_REQUEST_ERRORS;

export class ReactivationRequestError extends Error {
  readonly code: ReactivationRequestErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(code: ReactivationRequestErrorCode, message: string, details: Readonly<Record<string, unknown>>) {
    super(message);
    this.name = 'ReactivationRequestError';
    this.code = code;
    this.details = details;
  }
}

registerHttpError(ReactivationRequestError, { status: (error) => REACTIVATION_REQUEST_ERRORS[error.code], details: (error) => error.details });

export interface ReactivationRequestDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  readonly runner: WorkflowRunner;
  readonly now?: () => Date;
}

/** What the operation record keeps beyond the execution's input: a deleted tenant's new contact details. */
export interface ReactivationRecordInput extends ReactivationInput {
  readonly contact?: { readonly name: string; readonly email: string };
}

/** What 202 answers. */
export interface ReactivationAccepted {
  readonly operationId: string;
  readonly tenantId: string;
  readonly status: 'running';
  readonly path: ReactivationPath;
  readonly from: ReactivationOrigin;
  readonly plan: PlanId;
  readonly restoreData: boolean;
  readonly operation: string;
}

/** The event into `reactivating` from `state`: the lifecycle table's, not restated here. */
export function reactivationEvent(state: Tenant['state']): LifecycleEvent | undefined {
  return LIFECYCLE_EVENTS.find((event) => LIFECYCLE_TABLE[event].to === REACTIVATING && canTransition(state, event));
}

/**
 * Start the reactivation of `tenantId` (202 with the operation). Refused, changing nothing, with:
 * ReactivationRequestError (see REACTIVATION_REQUEST_ERRORS), the soft delete's irreversibility (409
 * DELETION_DEADLINE_PASSED, ERASURE_STARTED), OperationOwnershipError (409: a hard delete or another operation
 * holds the tenant), IllegalTransitionError (409: an active tenant), VersionConflictError for an If-Match at
 * another version; 503 WORKFLOW_UNAVAILABLE (after undoing the initiate) when the execution cannot be started.
 * A tenant that changed between the read and the write (a hard delete claiming it) is decided again from scratch.
 */
export async function requestReactivation(deps: ReactivationRequestDependencies, tenantId: string, body: ReactivateBody, actor: string, expectedVersion?: number): Promise<ReactivationAccepted> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await tryReactivation(deps, tenantId, body, actor, expectedVersion);
    } catch (error) {
      // Without If-Match, a concurrent change (a hard delete's claim, another request) is re-read and decided again:
      // the answer then names what won (ERASURE_STARTED, OPERATION_IN_PROGRESS) rather than a bare version conflict.
      if (!(error instanceof VersionConflictError) || expectedVersion !== undefined || attempt >= 3) throw error;
    }
  }
}

async function tryReactivation(deps: ReactivationRequestDependencies, tenantId: string, body: ReactivateBody, actor: string, expectedVersion?: number): Promise<ReactivationAccepted> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion });
  const now = clock.nowOf(deps);
  const restoreData = body.restoreData ?? true;
  const event = reactivationEvent(tenant.state);
  if (!event) {
    throw ownerRefusal(tenant) ?? new ReactivationRequestError(
      'NOT_REACTIVATABLE',
      `Tenant '${tenantId}' is '${tenant.state}': only a suspended tenant, a soft-deleted one within its retention, or a deleted one can be reactivated.`,
      { tenantId, currentState: tenant.state, reactivatableFrom: Object.values(REACTIVATION_ORIGINS) },
    );
  }
  const origin = tenant.state as ReactivationOrigin;
  const path = pathOf(tenant, origin, restoreData, now, body);
  const plan: PlanId = body.plan ?? (tenant.plan as PlanId);
  // A plan asked for must fit the data it comes back with (as a downgrade must); without one it keeps its own plan,
  // as it had it (a suspension does not make it over its limits, and POST /resume does not check either).
  const checksFit = path !== 'fresh_start' && body.plan !== undefined;
  if (checksFit) {
    const violations = usageViolations(tenant.usage, plan);
    if (violations.length > 0) {
      throw new ReactivationRequestError(
        'USAGE_EXCEEDS_PLAN',
        `Tenant '${tenantId}' cannot come back on the ${plan} plan with its data: ${violations.map((v) => v.message).join('; ')}. Choose a larger plan${origin === REACTIVATION_ORIGINS.softDeleted ? ', or start fresh (restoreData: false)' : ''}.`,
        { plan, violations },
      );
    }
  }
  const refusal = refusalOf(tenant, event);
  if (refusal) throw refusal;

  const operationId = `op_${randomUUID()}`;
  const input: ReactivationInput = {
    operationId,
    tenantId,
    path,
    origin,
    plan,
    ...(origin === REACTIVATION_ORIGINS.deleted ? {} : { fromPlan: tenant.plan }),
    requestedBy: actor,
    requestedAt: now.toISOString(),
    ...(body.reason === undefined ? {} : { reason: body.reason }),
    ...(origin === REACTIVATION_ORIGINS.softDeleted && tenant.deletion ? { deletionRequestedAt: tenant.deletion.requestedAt } : {}),
  };
  const record: ReactivationRecordInput = { ...input, ...(body.name !== undefined && body.email !== undefined ? { contact: { name: body.name, email: body.email } } : {}) };
  const context = { actor, reason: body.reason ?? defaultReason(tenant, path, plan), operationId, reactivationPath: path };
  await deps.tenants.applyTransition(tenant, event, context, {
    // A fresh start's operation is the record of the purge it makes: kept, like a hard delete's, when the tenant is erased.
    alsoPut: [deps.operations.newItem({ operationId, tenantId, workflow: REACTIVATION_WORKFLOW.name, input: { ...record }, requestedBy: actor, ...(path === 'fresh_start' ? { erasureRecord: true } : {}) })],
    usageAsRead: checksFit, // the plan asked for was found to fit the usage read
  });
  const started = await startOrUndo(deps, REACTIVATION_WORKFLOW.name, input, async (failure) => {
    // Nothing was done yet (no schedule cancelled, nothing billed): the tenant goes back, the operation failed, in one transaction.
    const error = { code: failure.Error, message: failure.Cause ?? failure.Error };
    const current = await deps.tenants.find(tenantId);
    if (current?.operationId === operationId) {
      await deps.tenants.applyTransition(current, 'fail_reactivation', { actor, reason: `Reactivation could not start: ${error.message}`, operationId, reactivationPath: path }, {
        alsoUpdate: [deps.operations.finishUpdate(operationId, 'failed', 'running', error)],
      });
    } else {
      await deps.operations.finish(operationId, 'failed', 'running', error);
    }
  });
  if (!started) throw new ReactivationRequestError('WORKFLOW_UNAVAILABLE', 'The reactivation could not be started; nothing was changed. Retry later.', { tenantId });
  return { operationId, tenantId, status: 'running', path, from: origin, plan, restoreData: path !== 'fresh_start', operation: `/operations/${operationId}` };
}

/** The path for `origin` and the request, or the refusal that says what is possible instead. */
function pathOf(tenant: Tenant, origin: ReactivationOrigin, restoreData: boolean, now: Date, body: ReactivateBody): ReactivationPath {
  const tenantId = tenant.tenantId;
  const contactGiven = body.name !== undefined || body.email !== undefined;
  if (origin !== REACTIVATION_ORIGINS.deleted && contactGiven) {
    throw new ReactivationRequestError('DETAILS_NOT_ACCEPTED', `Tenant '${tenantId}' is '${origin}' and keeps its name and email: omit "name" and "email" (they are given again only for a deleted tenant).`, { tenantId, currentState: origin });
  }
  if (origin === REACTIVATION_ORIGINS.suspended) {
    if (!restoreData) {
      throw new ReactivationRequestError(
        'FRESH_START_UNAVAILABLE',
        `Tenant '${tenantId}' is suspended: it resumes with its data. To start fresh, soft-delete it (POST /tenants/${tenantId}/deletion) and reactivate it with restoreData: false.`,
        { tenantId, currentState: origin },
      );
    }
    return 'resume';
  }
  if (origin === REACTIVATION_ORIGINS.softDeleted) {
    // The same rule as cancelling the soft delete: within retention, no hard delete begun or running.
    const irreversible = softDeleteIrreversibility(tenant, now);
    if (irreversible) throw irreversible;
    return restoreData ? 'restore' : 'fresh_start';
  }
  const deletedAt = tenant.deletedAt ?? tenant.stateChangedAt;
  if (restoreData) {
    throw new ReactivationRequestError(
      'DATA_DELETED',
      `Tenant '${tenantId}' was deleted at ${deletedAt}${tenant.deletionCertificateId ? ` (certificate ${tenant.deletionCertificateId})` : ''}: its data is gone and cannot be restored. Reactivate it with restoreData: false and its name, email and plan to start fresh.`,
      { tenantId, deletedAt, ...(tenant.deletionCertificateId ? { deletionCertificateId: tenant.deletionCertificateId } : {}) },
    );
  }
  const missing = (['name', 'email', 'plan'] as const).filter((field) => body[field] === undefined);
  if (missing.length > 0) {
    throw new ReactivationRequestError(
      'DETAILS_REQUIRED',
      `Tenant '${tenantId}' was deleted at ${deletedAt} and its details were erased with its data: send ${missing.map((field) => `"${field}"`).join(', ')} to start it fresh.`,
      { tenantId, missing },
    );
  }
  return 'fresh_start';
}

function defaultReason(tenant: Tenant, path: ReactivationPath, plan: PlanId): string {
  switch (path) {
    case 'resume':
      return `Reactivation of the suspended tenant on the ${plan} plan, with its data`;
    case 'restore':
      return `Reactivation within retention${tenant.deletion ? ` (soft delete of ${tenant.deletion.requestedAt}, deadline ${tenant.deletion.deadline})` : ''} on the ${plan} plan, with its data restored`;
    case 'fresh_start':
      return `Reactivation on the ${plan} plan as a fresh start: none of the old data`;
  }
}
