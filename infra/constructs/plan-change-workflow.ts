/**
 * The plan-change workflow on AWS: the registry's plan-change entry built by WorkflowStateMachine, with its
 * period-end target by name (the stack and its tests refer to it).
 */
import { PLAN_CHANGE_WORKFLOW } from '../../functions/plan-change/plan-change-definition';
import { aslPath } from '../workflow-asl';
import type { HandlerFunction } from './handler-function';
import type { WorkflowStateMachine } from './workflow-state-machine';

export { aslPlaceholders } from '../workflow-asl';

/** The workflow definition, read from the repository (never the working directory). */
export const PLAN_CHANGE_ASL_PATH = aslPath(PLAN_CHANGE_WORKFLOW);
/** The target of period-end downgrades' one-shot schedules, relative to the repository root. */
export const PLAN_CHANGE_PERIOD_END_ENTRY = PLAN_CHANGE_WORKFLOW.scheduleTargets[0].entry;

export type PlanChangeWorkflow = WorkflowStateMachine & { readonly periodEndFunction: HandlerFunction };

/** The plan change's construct, with its period-end function named. */
export function planChangeWorkflow(workflow: WorkflowStateMachine): PlanChangeWorkflow {
  return Object.assign(workflow, { periodEndFunction: workflow.scheduleTargetFunction(PLAN_CHANGE_WORKFLOW.scheduleTargets[0].target) });
}
