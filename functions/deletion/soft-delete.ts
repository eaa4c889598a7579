/**
 * Soft delete, its cancellation, and legal holds: what the deletion routes do (DESIGN.md "Deletion").
 *
 * A soft delete is all or nothing. The two one-shot schedules are armed and the billing subscription cancelled
 * first: each is harmless alone (a schedule that fires for a tenant not `deleting` with that `requestedAt` does
 * nothing; a cancelled subscription is restored). Then ONE transaction: `initiate_deletion` with the deletion
 * record, the scheduled plan change (if any) removed with its operation ended `cancelled`, and their audit
 * entries. If it fails, the schedules are deleted and billing restored before the error is answered. What a
 * cancelled scheduled change had arranged (its billing schedule, its one-shot schedule) is undone after the
 * commit, best effort: it can no longer start (its operation has ended), and the subscription is cancelled anyway.
 *
 * Cancelling a soft delete (within retention, no hard delete running) restores billing first (a new Stripe
 * subscription on the tenant's plan), then `cancel_deletion` + `complete_reactivation` in one transaction that
 * stores the restored account and drops the deletion record; the schedules are deleted after the commit, best
 * effort (a leftover firing finds no deletion and does nothing). If the transaction fails, billing is stopped again.
 *
 * Billing's idempotency keys derive from the tenant and the soft delete's `requestedAt`, so a retried step
 * gets the provider's first answer and a later soft delete of the same tenant gets new ones.
 */
import * as clock from '../shared/clock';
import { randomUUID } from 'node:crypto';
import type { CustomerLifecycleRequest } from '../billing/billing-port';
import { subscriptionLinkItem } from '../billing/subscription-links';
import { LIFECYCLE_TABLE } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';
import type { Operation } from '../operations/operation-store';
import { planChangeScheduleName, revertOperationBilling, type PlanChangeDependencies, type PlanChangeInput } from '../plan-change/plan-change-steps';
import { logger } from '../shared/powertools';
import { OperationOwnershipError } from '../tenants/errors';
import { refusalOf } from '../tenants/tenant-rules';
import { CHANGE_EVENTS, type Tenant } from '../tenants/tenant-store';
import { deletionAfterHoldRelease, deletionSchedule, retentionDaysFor, withinRetention, type DeletionSchedule, type LegalHold } from './deletion-policy';
import { armDeletionSchedules, cancelDeletionSchedules } from './deletion-schedules';
import { DeletionRequestError } from './errors';

/** The lifecycle table's soft-deleted and deleted states (where its deletion events lead). */
const SOFT_DELETED = LIFECYCLE_TABLE.initiate_deletion.to;
const DELETED = LIFECYCLE_TABLE.complete_deletion.to;

/** What the deletion routes use: the workflow ports (stores, billing, scheduler) and the clock. */
export type SoftDeleteDependencies = PlanChangeDependencies;

/** Who asks, and the request's If-Match. */
export interface DeletionCaller {
  /** The token subject. */
  readonly actor: string;
  readonly expectedVersion?: number;
}


/** The billing request of the soft delete `deletion` of `tenant` (its idempotency keys derive from `requestedAt`). */
function billingRequest(tenant: Tenant, deletion: Pick<DeletionSchedule, 'requestedAt'>): CustomerLifecycleRequest {
  return { tenantId: tenant.tenantId, account: tenant.billing, plan: tenant.plan, idempotencyKey: `${tenant.tenantId}:deletion:${deletion.requestedAt}` };
}

/** Run `undo` after a failure, logging (not throwing) its own failure: the original error is the answer. */
async function bestEffort(what: string, tenantId: string, undo: () => Promise<unknown>): Promise<void> {
  try {
    await undo();
  } catch (error) {
    logger.error(`Could not ${what}`, { tenantId, error: error as Error });
  }
}

/**
 * POST /tenants/{id}/deletion: soft-delete the tenant (`active` or `suspended`) with `retentionDays` (default 30,
 * 30–90, at most 30 for a GDPR tenant). Throws RetentionPolicyError (400) for a retention out of bounds, the
 * refusal of tenant-rules.ts (409) when the state does not allow it, VersionConflictError on If-Match, and
 * billing's or the scheduler's error (nothing changed) when they fail. Answers the tenant, `deleting`.
 */
export async function initiateDeletion(
  deps: SoftDeleteDependencies,
  tenantId: string,
  request: DeletionCaller & { readonly retentionDays?: number; readonly reason?: string },
): Promise<Tenant> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion: request.expectedVersion });
  const retentionDays = retentionDaysFor(request.retentionDays, tenant);
  const refusal = refusalOf(tenant, 'initiate_deletion');
  if (refusal) throw refusal;
  const deletion = deletionSchedule({ tenantId, requestedAt: clock.nowOf(deps), requestedBy: request.actor, retentionDays, ...(request.reason === undefined ? {} : { reason: request.reason }) });
  const scheduled = tenant.scheduledPlanChange ? await deps.operations.get(tenant.scheduledPlanChange.operationId) : undefined;

  let cancelled = false;
  try {
    await armDeletionSchedules(deps.scheduler, tenantId, deletion);
    cancelled = (await deps.billing.cancelSubscription(billingRequest(tenant, deletion))).cancelled;
    const reason = request.reason ?? `Soft delete requested: data retained ${retentionDays} days, hard delete at ${deletion.deadline}`;
    const next = await deps.tenants.applyTransitions(
      tenant,
      ['initiate_deletion'],
      { actor: request.actor, reason, operationId: `deletion-${randomUUID()}` },
      {
        changes: { deletion, ...(scheduled ? { scheduledPlanChange: null } : {}) },
        alsoUpdate: scheduled
          ? [deps.operations.finishUpdate(scheduled.operationId, 'cancelled', 'scheduled', { code: 'CancelledByDeletion', message: `The tenant was soft-deleted by ${request.actor} before the change started.` })]
          : [],
      },
    );
    if (scheduled) await undoScheduledChange(deps, scheduled);
    return next as Tenant;
  } catch (error) {
    await bestEffort('undo a failed soft delete', tenantId, () => undoFailedSoftDelete(deps, tenant, deletion, cancelled));
    throw error;
  }
}

/**
 * Take back what a soft delete did before its transaction failed. If a concurrent soft delete won (the tenant is
 * soft-deleted now, by another request), the schedules (same names) are the winner's again and billing stays
 * stopped; otherwise nothing changed: the schedules go and billing is restored if this request stopped it.
 */
async function undoFailedSoftDelete(deps: SoftDeleteDependencies, tenant: Tenant, deletion: DeletionSchedule, cancelled: boolean): Promise<void> {
  const current = await deps.tenants.find(tenant.tenantId);
  if (current?.state === SOFT_DELETED && current.deletion) {
    await armDeletionSchedules(deps.scheduler, tenant.tenantId, current.deletion);
    return;
  }
  await cancelDeletionSchedules(deps.scheduler, deletion);
  if (cancelled) await deps.billing.restoreSubscription(billingRequest(tenant, deletion));
}

/**
 * What a scheduled plan change ended by a soft delete had arranged: its one-shot schedule and its billing (a
 * Stripe subscription schedule; the ledger's schedule entry). Best effort after the commit: the change can no
 * longer start (its operation ended `cancelled`; a late firing finds it so and does nothing).
 */
async function undoScheduledChange(deps: SoftDeleteDependencies, operation: Operation): Promise<void> {
  const input = operation.input as unknown as PlanChangeInput;
  await Promise.all([
    bestEffort('delete the one-shot schedule of a plan change ended by a soft delete', input.tenantId, () => deps.scheduler.cancel(planChangeScheduleName(operation.operationId))),
    bestEffort('revert the billing of a plan change ended by a soft delete', input.tenantId, async () => {
      const notes = await revertOperationBilling(deps, input, operation);
      if (notes.length > 0) logger.error('A plan change ended by a soft delete left billing to revert by hand', { tenantId: input.tenantId, operationId: operation.operationId, notes });
    }),
  ]);
}

/**
 * DELETE /tenants/{id}/deletion: cancel the soft delete within retention: billing restored, the tenant back to
 * `active` with its data (`cancel_deletion`, `complete_reactivation`), the schedules deleted. Throws DeletionRequestError
 * 409 NOT_DELETING (nothing to cancel), 409 DELETION_DEADLINE_PASSED (the data is gone or going: when),
 * OperationOwnershipError (a hard delete runs), VersionConflictError on If-Match, billing's error (nothing changed).
 */
/**
 * Why the soft delete of `tenant` can no longer be taken back at `now` (cancelled, or the tenant reactivated from
 * it), or undefined when it can: DeletionRequestError 409 DELETION_DEADLINE_PASSED (deleted, or past retention:
 * when, and what becomes of the data), NOT_DELETING (not soft-deleted), ERASURE_STARTED (a hard delete began
 * purging), OperationOwnershipError (an operation holds the tenant). The one rule for DELETE /tenants/{id}/deletion
 * and for reactivation (functions/reactivation/).
 */
export function softDeleteIrreversibility(tenant: Tenant, now: Date): DeletionRequestError | OperationOwnershipError | undefined {
  const tenantId = tenant.tenantId;
  const deletion = tenant.deletion;
  if (tenant.state === DELETED) {
    return new DeletionRequestError(
      'DELETION_DEADLINE_PASSED',
      `Tenant '${tenantId}' was deleted at ${tenant.stateChangedAt}${deletion ? ` (its retention ended at ${deletion.deadline})` : ''}: its data is gone and the deletion cannot be cancelled.`,
      { tenantId, deletedAt: tenant.stateChangedAt, ...(deletion ? { deadline: deletion.deadline } : {}) },
    );
  }
  if (!canTransition(tenant.state, 'cancel_deletion') || !deletion) {
    return new DeletionRequestError('NOT_DELETING', `Tenant '${tenantId}' is '${tenant.state}', not soft-deleted: there is no deletion to cancel.`, { tenantId, currentState: tenant.state });
  }
  if (deletion.erasureStarted) {
    // Possible before the deadline: a hard delete may run from the window's opening; one that failed half-way leaves the tenant `deleting` with part of its data gone.
    const { at, operationId } = deletion.erasureStarted;
    return new DeletionRequestError(
      'ERASURE_STARTED',
      `The hard delete of tenant '${tenantId}' began purging its data at ${at} (operation ${operationId}): part of it may be gone, so the soft delete can no longer be cancelled nor the tenant reactivated; the purge is finished by ${deletion.window.closesAt} or, if it failed, by its next run.`,
      { tenantId, operationId, erasureStartedAt: at, deadline: deletion.deadline, window: deletion.window },
    );
  }
  if (tenant.operationId) return new OperationOwnershipError(tenantId, tenant.state, tenant.operationId);
  if (!withinRetention(deletion, now)) {
    const hold = tenant.legalHold;
    // Under a hold nothing is purged yet: say so, and what happens when the hold goes.
    const fate = hold
      ? `its data is kept under the legal hold placed by ${hold.by} on ${hold.since} (${hold.reason}) and is purged once the hold is released`
      : `its data is being purged (the hard delete runs by ${deletion.window.closesAt})`;
    return new DeletionRequestError(
      'DELETION_DEADLINE_PASSED',
      `The retention of tenant '${tenantId}' ended at ${deletion.deadline}: ${fate}, and the soft delete can no longer be cancelled nor the tenant reactivated.`,
      { tenantId, deadline: deletion.deadline, window: deletion.window, ...(hold ? { legalHold: hold } : {}) },
    );
  }
  return undefined;
}

export async function cancelDeletion(deps: SoftDeleteDependencies, tenantId: string, request: DeletionCaller & { readonly reason?: string }): Promise<Tenant> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion: request.expectedVersion });
  const refusal = softDeleteIrreversibility(tenant, clock.nowOf(deps));
  if (refusal) throw refusal;
  const deletion = tenant.deletion as DeletionSchedule;
  const restored = await deps.billing.restoreSubscription(billingRequest(tenant, deletion));
  let next: Tenant;
  try {
    next = await deps.tenants.applyTransitions(
      tenant,
      ['cancel_deletion', 'complete_reactivation'],
      { actor: request.actor, reason: request.reason ?? `Soft delete of ${deletion.requestedAt} cancelled within retention (deadline ${deletion.deadline})`, operationId: `deletion-cancel-${randomUUID()}`, reactivationPath: 'restore' },
      {
        changes: { deletion: null, ...(restored ? { billing: restored } : {}) },
        // A new subscription (Stripe cannot revive a cancelled one) is linked to the tenant with it.
        alsoPut: restored && restored.subscriptionId !== tenant.billing?.subscriptionId ? [subscriptionLinkItem(tenantId, restored)] : [],
      },
    );
  } catch (error) {
    await bestEffort('stop the billing restored for a failed cancellation', tenantId, async () => {
      const current = await deps.tenants.find(tenantId);
      const stillSoftDeleted = current?.state === SOFT_DELETED && current.deletion?.requestedAt === deletion.requestedAt;
      // A concurrent cancellation that won brought the tenant back on this same restored subscription (same key): keep
      // it. Anything else that won (a reactivation bills on a subscription of its own) leaves this one to stop too.
      const madeHere = restored !== undefined && restored.subscriptionId !== tenant.billing?.subscriptionId;
      const billsTheTenant = madeHere && current?.billing?.subscriptionId === restored.subscriptionId;
      if (!stillSoftDeleted && (!madeHere || billsTheTenant)) return;
      // Billing stops again (a new key: the first cancellation's answer is spent).
      await deps.billing.cancelSubscription({ ...billingRequest({ ...tenant, billing: restored ?? tenant.billing }, deletion), idempotencyKey: `${tenantId}:deletion:${deletion.requestedAt}:recancel:${randomUUID()}` });
    });
    throw error;
  }
  await bestEffort('delete the schedules of a cancelled soft delete', tenantId, () => cancelDeletionSchedules(deps.scheduler, deletion));
  return next;
}

/**
 * PUT /tenants/{id}/legal-hold: place (or restate) a legal hold; while it is set the hard delete does not run.
 * `place_legal_hold` in the audit trail with `reason` and who. Throws DeletionRequestError 409 TENANT_DELETED on a deleted
 * tenant (nothing is left to hold), OperationOwnershipError while a hard delete runs, VersionConflictError.
 */
export async function placeLegalHold(deps: SoftDeleteDependencies, tenantId: string, request: DeletionCaller & { readonly reason: string; readonly by?: string }): Promise<Tenant> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion: request.expectedVersion });
  if (tenant.state === DELETED) {
    throw new DeletionRequestError('TENANT_DELETED', `Tenant '${tenantId}' was deleted at ${tenant.stateChangedAt}: its data is gone, there is nothing left to hold.`, { tenantId, currentState: tenant.state });
  }
  const running = hardDeleteRunning(tenant);
  if (running) throw running;
  const hold: LegalHold = { reason: request.reason, by: request.by ?? request.actor, since: tenant.legalHold?.since ?? clock.nowOf(deps).toISOString() };
  return deps.tenants.recordChange(tenant, CHANGE_EVENTS.placeLegalHold, { actor: request.actor, reason: `Legal hold placed by ${hold.by}: ${hold.reason}`, operationId: `legal-hold-${randomUUID()}` }, { set: { legalHold: hold } });
}

/**
 * DELETE /tenants/{id}/legal-hold: release the hold (`release_legal_hold`, with who and why). A soft-deleted
 * tenant's hard delete is re-armed for the later of its deadline and a minute from now (deletionAfterHoldRelease: the
 * enforcement window moves with it, a hold is not a violation), the updated record stored in the same change.
 * Throws DeletionRequestError 404 NO_LEGAL_HOLD when none is set, OperationOwnershipError while a hard delete runs.
 */
export async function releaseLegalHold(deps: SoftDeleteDependencies, tenantId: string, request: DeletionCaller & { readonly reason?: string }): Promise<Tenant> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion: request.expectedVersion });
  const hold = tenant.legalHold;
  if (!hold) throw new DeletionRequestError('NO_LEGAL_HOLD', `Tenant '${tenantId}' has no legal hold to release.`, { tenantId });
  const running = hardDeleteRunning(tenant);
  if (running) throw running;
  const rearm = tenant.state === SOFT_DELETED && tenant.deletion ? deletionAfterHoldRelease(tenant.deletion, clock.nowOf(deps)) : undefined;
  const next = await deps.tenants.recordChange(
    tenant,
    CHANGE_EVENTS.releaseLegalHold,
    { actor: request.actor, reason: request.reason ?? `Legal hold released (placed by ${hold.by} on ${hold.since}: ${hold.reason})`, operationId: `legal-hold-${randomUUID()}` },
    { remove: ['legalHold'], ...(rearm ? { set: { deletion: rearm.deletion } } : {}) },
  );
  if (rearm) {
    // Committed: a schedule that cannot be made now is recreated by the deletion sweeper (it finds the tenant
    // `deleting` without its schedule).
    await bestEffort('re-arm the hard delete after a legal hold was released', tenantId, () => armDeletionSchedules(deps.scheduler, tenantId, rearm.deletion, rearm.hardDeleteAt));
  }
  return next;
}

/** The refusal while a hard delete runs on the tenant (it carries the operation's id until it ends). */
function hardDeleteRunning(tenant: Tenant): OperationOwnershipError | undefined {
  return tenant.state === SOFT_DELETED && tenant.operationId ? new OperationOwnershipError(tenant.tenantId, tenant.state, tenant.operationId) : undefined;
}
