/**
 * Requesting a plan change: validation at the edge (same plan, wrong timing, usage over the new limits), the
 * dry run, and the start of the workflow: the tenant's initiate event and the operation record are one
 * transaction, then the workflow execution named after the operation is started.
 */
import { randomUUID } from 'node:crypto';
import type { BillingPort, PlanChangeTiming } from '../billing/billing-port';
import { canTransition } from '../lifecycle/transition';
import type { OperationStore } from '../operations/operation-store';
import { PLAN_LIMITS, comparePlans, usageViolations } from '../plans/plan-catalog';
import { needsMigration, resourcesFor } from '../provisioning/plan-resources';
import { ApiError } from '../shared/errors';
import { logger } from '../shared/powertools';
import type { TenantStore } from '../tenants/tenant-store';
import type { WorkflowRunner } from '../workflows/workflow-runner';
import type { ChangePlanBody } from './plan-change-schemas';
import type { PlanChangeInput } from './plan-change-steps';

export interface PlanChangeRequestDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  readonly billing: BillingPort;
  readonly runner: WorkflowRunner;
}

const INITIATE = { upgrade: 'initiate_upgrade', downgrade: 'initiate_downgrade' } as const;
const ROLLBACK = { upgrade: 'rollback_upgrade', downgrade: 'rollback_downgrade' } as const;

export type PlanChangeAnswer = { readonly status: 200 | 202; readonly body: Record<string, unknown> };

/** Validate and either preview (dryRun) or start a plan change. */
export async function requestPlanChange(deps: PlanChangeRequestDependencies, tenantId: string, body: ChangePlanBody, actor: string): Promise<PlanChangeAnswer> {
  const tenant = await deps.tenants.get(tenantId);
  const direction = comparePlans(tenant.plan, body.plan);
  if (direction === 'same') {
    throw new ApiError(400, 'SAME_PLAN', `Tenant '${tenantId}' is already on the ${body.plan} plan; ask for a different plan.`);
  }
  if (direction === 'upgrade' && body.effective === 'period_end') {
    throw new ApiError(400, 'INVALID_EFFECTIVE', 'Upgrades take effect immediately (prorated and invoiced now): omit "effective" or send "immediately".');
  }
  const timing: PlanChangeTiming = direction === 'upgrade' ? 'immediately' : (body.effective ?? 'period_end');
  const violations = direction === 'downgrade' ? usageViolations(tenant.usage, body.plan) : [];
  const billingRequest = { operationId: 'dry-run', tenantId, fromPlan: tenant.plan, toPlan: body.plan, direction, timing, ...(tenant.billing ? { account: tenant.billing } : {}) } as const;

  if (body.dryRun) {
    const blockers = [
      ...(canTransition(tenant.state, INITIATE[direction]) ? [] : [`The tenant is '${tenant.state}'; plan changes start from 'active'.`]),
      ...violations.map((violation) => violation.message),
    ];
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
        billing: await deps.billing.previewPlanChange(billingRequest),
      },
    };
  }

  if (violations.length > 0) {
    throw new ApiError(
      422,
      'USAGE_EXCEEDS_PLAN',
      `Cannot downgrade '${tenantId}' to ${body.plan}: ${violations.map((v) => v.message).join('; ')}. Reduce usage below the new limits first.`,
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
    requestedBy: actor,
    ...(tenant.billing ? { account: tenant.billing } : {}),
  };
  const context = { actor, reason: body.reason ?? `Plan change from ${tenant.plan} to ${body.plan} requested`, operationId };
  const initiated = await deps.tenants.applyTransition(tenant, INITIATE[direction], context, {
    alsoPut: [deps.operations.newItem({ operationId, tenantId, workflow: 'plan-change', input: { ...input }, requestedBy: actor })],
  });
  const started = await startWithRetries(deps.runner, operationId, input);
  if (started !== true) {
    logger.error('Could not start the plan-change workflow; rolling back', { operationId, error: started });
    try {
      await deps.tenants.applyTransition(
        initiated,
        ROLLBACK[direction],
        { ...context, reason: 'Rolled back (WorkflowStartFailed): the workflow could not be started' },
        { alsoUpdate: [deps.operations.finishUpdate(operationId, 'rolled_back', 'running', { code: 'WorkflowStartFailed', message: 'The workflow could not be started.' })] },
      );
    } catch (rollbackError) {
      // The tenant moved on since the initiate: an execution did start after all and owns it now.
      logger.warn('Rollback after a failed start found the workflow running; answering 202', { operationId, rollbackError });
      return accepted(operationId, tenantId, direction, tenant.plan, body.plan, timing);
    }
    throw new ApiError(503, 'WORKFLOW_UNAVAILABLE', 'The plan change could not be started; nothing was changed. Retry later.', undefined, { cause: started });
  }
  return accepted(operationId, tenantId, direction, tenant.plan, body.plan, timing);
}

/** Start the execution; a failed start may still have happened, and a repeated start of the same name is a no-op. */
async function startWithRetries(runner: WorkflowRunner, operationId: string, input: PlanChangeInput): Promise<unknown> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      await runner.start('plan-change', operationId, { operation: input });
      return true;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
  }
  return lastError;
}

function accepted(operationId: string, tenantId: string, direction: 'upgrade' | 'downgrade', fromPlan: string, toPlan: string, timing: PlanChangeTiming): PlanChangeAnswer {
  return {
    status: 202,
    body: { operationId, status: 'running', tenantId, direction, fromPlan, toPlan, effective: timing, operation: `/operations/${operationId}` },
  };
}
