/** The plan-change state machine's Task Lambda: runs the step the ASL names, with the deployed dependencies. */
import { operationOutcome } from '../../operations/operation-store';
import { logger } from '../../shared/powertools';
import { workflowDependencies } from '../workflow-deps';
import { PLAN_CHANGE_STEPS, runPlanChangeStep, type PlanChangeInput, type PlanChangeStep, type StepFailure, type StepResult } from '../plan-change-steps';

export interface PlanChangeTaskEvent {
  readonly step: PlanChangeStep;
  readonly operation: PlanChangeInput;
  readonly failure?: StepFailure;
}

export const handler = async (event: PlanChangeTaskEvent): Promise<StepResult> => {
  if (!PLAN_CHANGE_STEPS.includes(event.step)) throw new Error(`Unknown plan-change step '${String(event.step)}'`);
  logger.resetKeys();
  logger.setCorrelationId(event.operation.operationId);
  logger.appendKeys({ tenantId: event.operation.tenantId, operationId: event.operation.operationId, step: event.step });
  const deps = workflowDependencies();
  const result = await runPlanChangeStep(deps, event.step, event.operation, event.failure);
  // The steps that end a workflow: one entry with how it ended (operation, tenant, status, cause).
  if (event.step === 'commitPlan' || event.step === 'compensate') logger.info('Workflow ended', { ...operationOutcome(await deps.operations.get(event.operation.operationId)) });
  return result;
};
