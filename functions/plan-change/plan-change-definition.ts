/**
 * The plan-change workflow's entry in the workflow registry (functions/workflows/registry.ts): what the engine,
 * the CDK construct and the local runner need to know about it, without its code (the steps are in
 * plan-change-workflow.ts, loaded only by the functions that run them).
 */
import type { WorkflowDefinition } from '../workflows/workflow-definition';

export const PLAN_CHANGE_WORKFLOW = {
  name: 'plan-change',
  title: 'plan change',
  description: 'Tenant plan change: read-only window, drain, provision, bill, commit; compensates on failure.',
  asl: 'statemachines/plan-change.asl.json',
  taskFunctionPlaceholder: 'PlanChangeTaskFunctionArn',
  events: {
    initiates: ['initiate_upgrade', 'initiate_downgrade'],
    completes: ['complete_upgrade', 'complete_downgrade'],
    rollsBackWith: ['rollback_upgrade', 'rollback_downgrade'],
  },
  scheduleTargets: [{ target: 'plan-change.period-end', entry: 'functions/plan-change/handlers/period-end.ts' }],
  // The ASL's own TimeoutSeconds (test/infra holds them equal).
  timeoutSeconds: 900,
  // Past the 900 s timeout plus the timeout rule's retries.
  stuckAfterSeconds: 30 * 60,
  // The longest Task TimeoutSeconds in the ASL is 300 s (ProvisionResources); leave room above it.
  taskTimeoutSeconds: 330,
  // Steps bill and move vector placements; compensations refund and release them; the period-end target
  // starts the change, or releases its billing schedule (Stripe) when the change can no longer happen.
  reaches: { task: ['billing', 'vectors:provision'], compensation: ['billing', 'vectors:provision'], scheduleTargets: ['billing'] },
} as const satisfies WorkflowDefinition;
