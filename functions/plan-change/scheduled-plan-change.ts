/**
 * Plan changes that wait for their time: a downgrade that takes effect at the end of the billing period.
 *
 * Scheduling (at request time): the operation (`scheduled`) and the tenant's `scheduledPlanChange` are one
 * transaction; then billing arranges the price change for the period end (a Stripe subscription schedule),
 * and a one-shot schedule is made to start the change then. The tenant keeps its plan, limits and resources
 * until that moment. A failure on the way undoes what was done (the operation ends `cancelled`); a crash on
 * the way is undone by the sweeper.
 *
 * Shortly before the period end (PERIOD_END_LEAD_SECONDS) the schedule fires `startScheduledPlanChange`:
 * usage is checked again (a tenant that grew past the new limits keeps its plan: the change is cancelled and
 * billing put back), then the tenant's initiate event and the operation's start are one transaction and the
 * same plan-change workflow runs (drain, read-only window, provisioning, commit; billing is already
 * arranged). Starting before the billing period ends means a change that is cancelled or rolls back releases
 * the Stripe schedule before it moves the price: the tenant keeps its plan and its price, nobody is charged
 * or credited for a change that did not happen. The cost: the lower plan applies up to that lead early.
 *
 * Until then the change can be cancelled (`cancelPlanChangeRequest`); other plan changes are refused with 409
 * while it is pending, so two changes never race for the same subscription.
 */
import * as clock from '../shared/clock';
import { BillingRejectedError, BillingTransientError } from '../billing/billing-port';
import { SchedulerTransientError } from '../scheduler/scheduler-port';
import { ConfigurationError } from '../shared/config';
import { StoreContentionError } from '../workflows/errors';
import { PlanChangeRequestError } from './request-errors';
import { isTransitional } from '../lifecycle/lifecycle-table';
import { canTransition } from '../lifecycle/transition';
import { usageViolations } from '../plans/plan-catalog';
import { logger } from '../shared/powertools';
import { VersionConflictError } from '../tenants/errors';
import { ownerRefusal } from '../tenants/tenant-rules';
import type { ChangeContext, Tenant } from '../tenants/tenant-store';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import { startExecution as startWorkflowExecution, startOrUndo as startWorkflowOrUndo } from '../workflows/start-execution';
import { PLAN_CHANGE_WORKFLOW } from './plan-change-definition';
import {
  PERIOD_END_REACHED,
  applyBilling,
  cancelScheduledChange,
  planChangeScheduleName,
  forcedContext,
  runPlanChangeStep,
  type PlanChangeDependencies,
  type PlanChangeInput,
  type StepFailure,
} from './plan-change-steps';

export type ScheduledPlanChangeDependencies = PlanChangeDependencies & { readonly runner: WorkflowRunner };

/** EventBridge Scheduler fires within the minute of its time (60 s precision): that early still counts as due. */
const DUE_TOLERANCE_MS = 90_000;
/**
 * How long before the end of the billing period a scheduled change starts: longer than the workflow's own
 * timeout (900 s), so even a change that fails late has rolled back before billing moves the price.
 */
export const PERIOD_END_LEAD_SECONDS = 16 * 60;

/** When a change effective at `effectiveAt` (the period end) starts. */
export function startsAt(effectiveAt: string): Date {
  return new Date(Date.parse(effectiveAt) - PERIOD_END_LEAD_SECONDS * 1000);
}
/** A tenant busy with another operation (an export, say) at the period end is tried again this much later. */
export const BUSY_TENANT_RETRY_SECONDS = 10 * 60;

export const PERIOD_END_TARGET = 'plan-change.period-end' as const;

/** The period-end schedule: ids only (the operation it starts, and its tenant, whose data the schedule is). */
function scheduleOf(operationId: string, tenantId: string, at: Date) {
  return { name: planChangeScheduleName(operationId), at, target: PERIOD_END_TARGET, payload: { operationId, tenantId } } as const;
}

function failureOf(error: unknown): StepFailure {
  const named = error as { name?: string; message?: string };
  return { Error: named?.name ?? 'Error', Cause: named?.message ?? String(error) };
}

/**
 * Schedule `input` (a period-end downgrade of `tenant`, validated) for `effectiveAt`, the end of the billing
 * period that billing's preview gave, with `schedule_plan_change` and `reason` (the request's, else what was
 * scheduled) in the tenant's history. Throws an ApiError after undoing everything when a part fails.
 */
export async function schedulePlanChange(deps: ScheduledPlanChangeDependencies, tenant: Tenant, input: PlanChangeInput, effectiveAt: string, reason?: string): Promise<void> {
  const { operationId } = input;
  await deps.tenants.scheduleChange(
    tenant,
    { operationId, plan: input.toPlan, effectiveAt },
    { actor: input.requestedBy, reason: reason ?? `Downgrade from ${input.fromPlan} to ${input.toPlan} scheduled for the end of the billing period (${effectiveAt})`, operationId, ...forcedContext(input) },
    {
      event: 'initiate_downgrade',
      alsoPut: [deps.operations.newItem({ operationId, tenantId: input.tenantId, workflow: 'plan-change', input: { ...input }, requestedBy: input.requestedBy, effectiveAt }, 'scheduled')],
    },
  );
  try {
    const change = await applyBilling(deps, input, 'scheduled');
    if (change.effectiveAt !== effectiveAt) {
      throw new BillingTransientError(`The billing period rolled over while the change was scheduled (${effectiveAt} became ${change.effectiveAt}).`);
    }
    await deps.scheduler.scheduleOnce(scheduleOf(operationId, input.tenantId, startsAt(effectiveAt)));
    await deps.operations.markScheduled(operationId, effectiveAt, startsAt(effectiveAt).toISOString());
  } catch (error) {
    logger.error('Could not schedule the plan change; undoing it', { operationId, tenantId: input.tenantId, error: error as Error });
    let undone = true;
    try {
      await cancelScheduledChange(deps, input, failureOf(error));
    } catch (undoError) {
      // The operation stays in the sweeper's partition: it is undone there within the hour.
      undone = false;
      logger.error('Could not undo a failed scheduling; the sweeper will', { operationId, undoError: undoError as Error });
    }
    if (error instanceof BillingRejectedError || error instanceof ConfigurationError) throw error; // retrying will not help
    const message = undone
      ? 'The downgrade could not be scheduled; nothing was changed. Retry later.'
      : `The downgrade could not be scheduled, and undoing it has not finished: operation ${operationId} is undone automatically within the hour (the tenant keeps its plan). Retry after that.`;
    throw new PlanChangeRequestError('SCHEDULING_UNAVAILABLE', message, { operationId }, { cause: error });
  }
}

/**
 * What a delivery of the period-end schedule did: `started` the change (this delivery initiated it),
 * `restarted` (an earlier delivery initiated it; this one made sure its execution runs, a no-op when it does),
 * `not_due` (re-armed), `deferred` (tenant busy; re-armed), `cancelled`, `already_handled`, `not_found`.
 */
export type PeriodEndOutcome = 'started' | 'restarted' | 'not_due' | 'deferred' | 'cancelled' | 'already_handled' | 'not_found';

export interface PeriodEndResult {
  readonly operationId: string;
  readonly outcome: PeriodEndOutcome;
  readonly reason?: string;
}

/**
 * The schedule's target: start the scheduled change `operationId` if it is due and still wanted. Idempotent
 * (a second delivery finds it started); an early delivery re-arms the schedule and does nothing.
 */
export async function startScheduledPlanChange(deps: ScheduledPlanChangeDependencies, operationId: string): Promise<PeriodEndResult> {
  const now = clock.nowOf(deps);
  const operation = await deps.operations.find(operationId);
  if (!operation) return { operationId, outcome: 'not_found' };
  const input = operation.input as unknown as PlanChangeInput;
  if (operation.status === 'running' && operation.steps.includes(PERIOD_END_REACHED)) {
    // Started, but maybe its execution never was (the last delivery died in between): start it again, a
    // no-op when it runs. Only while the operation still owns the tenant.
    const tenant = await deps.tenants.get(input.tenantId);
    if (tenant.operationId !== operationId) return { operationId, outcome: 'already_handled' };
    await startExecution(deps, input);
    return { operationId, outcome: 'restarted' };
  }
  // Not scheduled any more (ended, being cancelled), or never set up: the sweeper undoes those.
  if (operation.status !== 'scheduled' || !operation.steps.includes('scheduled') || !operation.effectiveAt) return { operationId, outcome: 'already_handled' };
  const due = startsAt(operation.effectiveAt);
  if (now.getTime() < due.getTime() - DUE_TOLERANCE_MS) {
    await deps.scheduler.scheduleOnce(scheduleOf(operationId, input.tenantId, due));
    return { operationId, outcome: 'not_due', reason: `Due at ${due.toISOString()}, before the period ends at ${operation.effectiveAt}.` };
  }

  for (let attempt = 0; ; attempt += 1) {
    const tenant = await deps.tenants.get(input.tenantId);
    const refusal = refusalAtPeriodEnd(tenant, input);
    if (refusal === 'busy') {
      const retryAt = new Date(now.getTime() + BUSY_TENANT_RETRY_SECONDS * 1000);
      await deps.scheduler.scheduleOnce(scheduleOf(operationId, input.tenantId, retryAt));
      return { operationId, outcome: 'deferred', reason: `The tenant is '${tenant.state}' (operation ${tenant.operationId ?? 'unknown'}); tried again at ${retryAt.toISOString()}.` };
    }
    if (refusal) {
      const result = await cancelScheduledChange(deps, input, refusal);
      return { operationId, outcome: 'outcome' in result && result.outcome === 'cancelled' ? 'cancelled' : 'already_handled', reason: refusal.Cause };
    }
    const context: ChangeContext = {
      actor: input.requestedBy,
      reason: `Downgrade from ${input.fromPlan} to ${input.toPlan} scheduled for ${operation.effectiveAt}: its time has come`,
      operationId,
      ...forcedContext(input),
    };
    try {
      await deps.tenants.applyTransition(tenant, 'initiate_downgrade', context, {
        changes: { scheduledPlanChange: null },
        alsoUpdate: [deps.operations.startUpdate(operationId)],
        usageAsRead: true, // refusalAtPeriodEnd found the usage read to fit the lower plan
      });
    } catch (error) {
      // The tenant changed meanwhile (its usage, say): read it again. A cancelled transaction whose tenant did
      // not change lost to a cancellation or to another delivery of this schedule.
      if (error instanceof VersionConflictError && attempt < 3) continue;
      const current = await deps.operations.get(operationId);
      if (current.status !== 'scheduled') return { operationId, outcome: 'already_handled' };
      throw error;
    }
    // A start that fails is thrown, not undone: the delivery is retried (and then the sweeper), and the retry
    // starts the execution of the operation now running (above). The billing period has not ended yet.
    await startExecution(deps, input);
    return { operationId, outcome: 'started' };
  }
}

/** Why a due change must not start now: 'busy' (try later), a reason to cancel it, or undefined (go). */
function refusalAtPeriodEnd(tenant: Tenant, input: PlanChangeInput): StepFailure | 'busy' | undefined {
  if (tenant.scheduledPlanChange?.operationId !== input.operationId) {
    return { Error: 'ScheduledChangeMissing', Cause: `Tenant '${input.tenantId}' no longer has this change scheduled.` };
  }
  if (!canTransition(tenant.state, 'initiate_downgrade')) {
    if (isTransitional(tenant.state)) return 'busy';
    return { Error: 'TenantNotActive', Cause: `Tenant '${input.tenantId}' is '${tenant.state}' at the end of the period; the downgrade to ${input.toPlan} was cancelled and billing put back.` };
  }
  const violations = usageViolations(tenant.usage, input.toPlan);
  if (violations.length > 0) {
    return {
      Error: 'USAGE_EXCEEDS_PLAN',
      Cause: `At the end of the period the tenant no longer fits the ${input.toPlan} plan (${violations.map((v) => v.message).join('; ')}); it keeps its plan and price.`,
    };
  }
  return undefined;
}

/**
 * Start the workflow of an operation whose initiate event is written; if it cannot start, compensate
 * (billing reverted, tenant back to active on its old plan) and answer false (functions/workflows/start-execution.ts).
 */
export async function startOrUndo(deps: ScheduledPlanChangeDependencies, input: PlanChangeInput): Promise<boolean> {
  return startWorkflowOrUndo(deps, PLAN_CHANGE_WORKFLOW.name, input, (failure) => runPlanChangeStep(deps, 'compensate', input, failure));
}

function startExecution(deps: ScheduledPlanChangeDependencies, input: PlanChangeInput): Promise<void> {
  return startWorkflowExecution(deps, PLAN_CHANGE_WORKFLOW.name, input);
}

/**
 * DELETE /tenants/{id}/scheduled-plan-change: cancel the pending change (billing put back, schedule gone),
 * with `cancel_scheduled_plan_change`, the actor and `reason` in the tenant's history. `expectedVersion` is
 * the request's If-Match (VersionConflictError when the tenant is at another version); a tenant whose
 * scheduled change has started is owned by its operation (OperationOwnershipError).
 */
export async function cancelPlanChangeRequest(deps: ScheduledPlanChangeDependencies, tenantId: string, actor: string, reason?: string, expectedVersion?: number) {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion });
  const scheduled = tenant.scheduledPlanChange;
  if (!scheduled) {
    const owner = ownerRefusal(tenant); // its change has started: the operation owns the tenant now
    if (owner) throw owner;
    throw new PlanChangeRequestError('NO_SCHEDULED_PLAN_CHANGE', `Tenant '${tenantId}' has no scheduled plan change to cancel.`, { tenantId });
  }
  const operation = await deps.operations.get(scheduled.operationId);
  let result;
  try {
    result = await cancelScheduledChange(
      deps,
      operation.input as unknown as PlanChangeInput,
      { Error: 'CancelledByRequest', Cause: `Cancelled by ${actor}${reason ? `: ${reason}` : ''}.` },
      { actor, reason: reason ?? `Downgrade to ${scheduled.plan} scheduled for ${scheduled.effectiveAt} cancelled by request` },
    );
  } catch (error) {
    if (!(error instanceof BillingTransientError || error instanceof SchedulerTransientError || error instanceof StoreContentionError)) throw error;
    // Claimed, so it will not start any more, but billing or the schedule is not undone yet.
    throw new PlanChangeRequestError('CANCELLATION_INCOMPLETE', `The change to ${scheduled.plan} is cancelled and will not happen, but undoing its billing or schedule has not finished (${(error as Error).message}). Send the DELETE again to finish it now; otherwise it is finished automatically within the hour.`,
      { operationId: scheduled.operationId },
      { cause: error },
    );
  }
  if ('outcome' in result && result.outcome !== 'cancelled') {
    // Lost the race to the period end: while its operation runs, the answer any change of the tenant gets.
    const owner = ownerRefusal(await deps.tenants.get(tenantId));
    if (owner) throw owner;
    throw new PlanChangeRequestError('PLAN_CHANGE_STARTED', `The change to ${scheduled.plan} (operation ${scheduled.operationId}) started at the end of the period and has ended since: it can no longer be cancelled; /operations/${scheduled.operationId} says how it ended.`,
      { operationId: scheduled.operationId },
    );
  }
  return deps.operations.get(scheduled.operationId);
}
