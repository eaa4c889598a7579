/**
 * The plan change's steps module, as the workflow engine calls it (functions/workflows/workflow-steps.ts
 * loads it on first use): its steps, its compensation and the start of a scheduled change whose schedule was
 * lost. The work itself is in plan-change-steps.ts and scheduled-plan-change.ts.
 */
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowSteps } from '../workflows/workflow-definition';
import { PLAN_CHANGE_STEPS, runPlanChangeStep, type PlanChangeInput, type PlanChangeStep, type StepFailure } from './plan-change-steps';
import { startScheduledPlanChange } from './scheduled-plan-change';

/** What the plan-change state machine's Task states send the task function. */
export interface PlanChangeTaskEvent {
  readonly step: PlanChangeStep;
  readonly operation: PlanChangeInput;
  readonly failure?: StepFailure;
}

export const planChangeSteps: WorkflowSteps<WorkflowPorts, PlanChangeInput> = {
  steps: PLAN_CHANGE_STEPS,
  endingSteps: ['commitPlan', 'compensate'],
  run: (deps, step, input, failure) => runPlanChangeStep(deps, step as PlanChangeStep, input, failure),
  compensate: (deps, input, failure) => runPlanChangeStep(deps, 'compensate', input, failure),
  startOverdue: (deps, operationId) => startScheduledPlanChange(deps, operationId),
};
