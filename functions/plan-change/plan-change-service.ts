/**
 * Requesting a plan change: validation at the edge (same plan, wrong timing, usage over the new limits, a
 * change already scheduled), the dry run, and then either the start of the workflow (the tenant's initiate
 * event and the operation record are one transaction, then the execution named after the operation is
 * started) or, for a downgrade at the period end, its scheduling (scheduled-plan-change.ts).
 */
import { randomUUID } from 'node:crypto';
import type { PlanChangeTiming } from '../billing/billing-port';
import * as clock from '../shared/clock';
import { PLAN_LIMITS, comparePlans, usageViolations } from '../plans/plan-catalog';
import { needsMigration, resourcesFor } from '../provisioning/plan-resources';
import { refusalOf } from '../tenants/tenant-rules';
import { knownTenant } from '../tenants/tenant-store';
import { PlanChangeRequestError } from './request-errors';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import type { PlanChangeRequestBody } from './plan-change-schemas';
import { billingRequest, drainPreview, forcedContext, readOnlyWindowReason, windowOpenedAtStart, type PlanChangeDependencies, type PlanChangeInput } from './plan-change-steps';
import { schedulePlanChange, startOrUndo } from './scheduled-plan-change';

/** Everything the workflow's steps use, and the runner that starts it. */
export type PlanChangeRequestDependencies = PlanChangeDependencies & { readonly runner: WorkflowRunner };

const INITIATE = { upgrade: 'initiate_upgrade', downgrade: 'initiate_downgrade' } as const;

export type PlanChangeAnswer = { readonly status: 200 | 202; readonly body: Record<string, unknown> };

/**
 * Validate and either preview (dryRun) or start a plan change. `expectedVersion` is the request's If-Match:
 * VersionConflictError when the tenant is at another version (nothing is previewed or changed). With `force`,
 * the drain revokes the tenant's live query leases instead of waiting for them (plan-change-steps.ts), and every
 * history entry of the change says `forced: true`; the preview says what the drain would do either way.
 */
export async function requestPlanChange(
  deps: PlanChangeRequestDependencies,
  tenantId: string,
  body: PlanChangeRequestBody,
  actor: string,
  expectedVersion?: number,
): Promise<PlanChangeAnswer> {
  const tenant = await deps.tenants.get(tenantId, { expectedVersion });
  const direction = comparePlans(tenant.plan, body.plan);
  if (direction === 'same') {
    throw new PlanChangeRequestError('SAME_PLAN', `Tenant '${tenantId}' is already on the ${body.plan} plan; ask for a different plan.`);
  }
  if (direction === 'upgrade' && body.effective === 'period_end') {
    throw new PlanChangeRequestError('INVALID_EFFECTIVE', 'Upgrades take effect immediately (prorated and invoiced now): omit "effective" or send "immediately".');
  }
  const timing: PlanChangeTiming = direction === 'upgrade' ? 'immediately' : (body.effective ?? 'period_end');
  const force = body.force ?? false;
  const violations = direction === 'downgrade' ? usageViolations(tenant.usage, body.plan) : [];
  // A running operation, the lifecycle table, a change already scheduled (two would fight over one subscription).
  const refusal = refusalOf(tenant, INITIATE[direction]);
  const previewRequest = { operationId: 'dry-run', tenantId, fromPlan: tenant.plan, toPlan: body.plan, direction, timing, ...(tenant.billing ? { account: tenant.billing } : {}) } as const;

  if (body.dryRun) {
    const blockers = [...(refusal ? [refusal.message] : []), ...violations.map((violation) => violation.message)];
    const current = tenant.resources ?? resourcesFor(tenantId, tenant.plan);
    const next = resourcesFor(tenantId, body.plan);
    return {
      status: 200,
      body: {
        dryRun: true,
        tenantId,
        direction,
        fromPlan: tenant.plan,
        toPlan: body.plan,
        effective: timing,
        allowed: blockers.length === 0,
        blockers,
        violations,
        limits: { current: PLAN_LIMITS[tenant.plan], new: PLAN_LIMITS[body.plan] },
        resources: { current, new: next, migration: needsMigration(current, next) },
        billing: await deps.billing.previewPlanChange(previewRequest),
        drain: drainPreview(await deps.leases.liveLeases(tenantId), body.drainTimeoutSeconds, force),
      },
    };
  }

  if (refusal) throw refusal;
  if (violations.length > 0) {
    throw new PlanChangeRequestError('USAGE_EXCEEDS_PLAN', `Cannot downgrade '${tenantId}' to ${body.plan}: ${violations.map((v) => v.message).join('; ')}. Reduce usage below the new limits first.`,
      { violations },
    );
  }

  const operationId = `op_${randomUUID()}`;
  const input: PlanChangeInput = {
    operationId,
    tenantId,
    direction,
    fromPlan: tenant.plan,
    toPlan: body.plan,
    timing,
    drainTimeoutSeconds: body.drainTimeoutSeconds,
    force,
    requestedBy: actor,
    ...(tenant.billing ? { account: tenant.billing } : {}),
  };
  if (timing === 'period_end') {
    const { effectiveAt } = await deps.billing.previewPlanChange(billingRequest(input));
    await schedulePlanChange(deps, tenant, input, effectiveAt, body.reason);
    return { status: 202, body: { ...accepted(operationId, tenantId, direction, tenant.plan, body.plan, timing).body, status: 'scheduled', effectiveAt } };
  }
  const context = { actor, reason: body.reason ?? `Plan change from ${tenant.plan} to ${body.plan} requested`, operationId, ...forcedContext(input) };
  // The read-only window opens with the initiate event (nothing stands between them): one transaction, not two.
  const opened = windowOpenedAtStart(clock.nowOf(deps));
  const initiated = await deps.tenants.applyTransition(tenant, INITIATE[direction], context, {
    readOnlyWindow: readOnlyWindowReason(input),
    alsoPut: [deps.operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { ...input }, requestedBy: actor, ...opened })],
    usageAsRead: direction === 'downgrade', // the downgrade was found to fit the usage read
  });
  // The execution starts knowing the tenant as this transaction left it, and when its drain started.
  if (!(await startOrUndo(deps, { ...input, known: { tenant: knownTenant(initiated), drainStartedAt: opened.facts.drainStartedAt } }))) {
    throw new PlanChangeRequestError('WORKFLOW_UNAVAILABLE', 'The plan change could not be started; nothing was changed. Retry later.');
  }
  return accepted(operationId, tenantId, direction, tenant.plan, body.plan, timing);
}

function accepted(operationId: string, tenantId: string, direction: 'upgrade' | 'downgrade', fromPlan: string, toPlan: string, timing: PlanChangeTiming): PlanChangeAnswer {
  return {
    status: 202,
    body: { operationId, status: 'running', tenantId, direction, fromPlan, toPlan, effective: timing, operation: `/operations/${operationId}` },
  };
}
