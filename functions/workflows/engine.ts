/**
 * The workflow engine: what the task handler, the "execution ended badly" handler, the sweeper and the local
 * runner do, for any workflow of the registry, dispatching on the operation's `workflow`.
 */
import { operationOutcome } from '../operations/operation-store';
import { logger } from '../shared/powertools';
import type { WorkflowPorts } from './ports';
import type { StepFailure, WorkflowInput } from './workflow-definition';
import { workflowSteps } from './workflow-steps';

/** What a Task state sends its function: the step to run, the operation, and for a compensation the failure. */
export interface WorkflowTaskEvent {
  readonly step: string;
  readonly operation: WorkflowInput;
  readonly failure?: StepFailure;
}

/** A step the workflow's steps module does not have (an ASL naming a step that is not there). */
export class UnknownStepError extends Error {
  constructor(workflow: string, step: unknown) {
    super(`Unknown ${workflow} step '${String(step)}'`);
    this.name = 'UnknownStepError';
  }
}

/** Correlate every log line of this invocation with the operation. */
function logFor(workflow: string, input: WorkflowInput, extra: Record<string, unknown> = {}): void {
  logger.resetKeys();
  logger.setCorrelationId(input.operationId);
  logger.appendKeys({ workflow, tenantId: input.tenantId, operationId: input.operationId, ...extra });
}

/**
 * Log how an operation ended (one entry: operation, tenant, workflow, status, cause): what operators search by.
 * An execution that ended before writing its operation (a hard delete that found nothing to do, or failed
 * before its claim) is logged with status `not_started`.
 */
export async function logOutcome(deps: Pick<WorkflowPorts, 'operations'>, operationId: string): Promise<void> {
  const operation = await deps.operations.find(operationId);
  logger.info('Workflow ended', operation ? { ...operationOutcome(operation) } : { operationId, status: 'not_started' });
}

/**
 * Run one Task of `workflow`: the step the event names. Throws UnknownStepError for a step the workflow does
 * not have, and whatever the step throws (the ASL's Retry and Catch decide on it by name).
 */
export async function runTask(deps: WorkflowPorts, workflow: string, event: WorkflowTaskEvent): Promise<unknown> {
  const steps = await workflowSteps(workflow);
  if (!steps.steps.includes(event.step)) throw new UnknownStepError(workflow, event.step);
  logFor(workflow, event.operation, { step: event.step });
  const result = await steps.run(deps, event.step, event.operation, event.failure, event as unknown as Readonly<Record<string, unknown>>);
  if (steps.endingSteps.includes(event.step)) await logOutcome(deps, event.operation.operationId);
  return result;
}

/**
 * Compensate operation `input` of `workflow` with its own workflow's compensation (idempotent: an operation
 * already ended is left as it is).
 */
export async function compensate(deps: WorkflowPorts, workflow: string, input: WorkflowInput, failure: StepFailure): Promise<unknown> {
  return (await workflowSteps(workflow)).compensate(deps, input, failure);
}

/** Execution statuses that may skip the ASL's Catch: the "execution ended badly" handler compensates them. */
export const UNCAUGHT_EXECUTION_STATUSES = ['TIMED_OUT', 'ABORTED', 'FAILED'] as const;
export type UncaughtExecutionStatus = (typeof UNCAUGHT_EXECUTION_STATUSES)[number];

/** The failure a compensation is handed for an execution that ended with `status` without its Catch. */
export function executionEndedFailure(workflow: string, status: UncaughtExecutionStatus): StepFailure {
  switch (status) {
    case 'TIMED_OUT':
      return { Error: 'States.Timeout', Cause: `The ${workflow} workflow timed out.` };
    case 'ABORTED':
      return { Error: 'ExecutionAborted', Cause: `The ${workflow} execution was aborted.` };
    case 'FAILED':
      return { Error: 'ExecutionFailed', Cause: `The ${workflow} execution failed.` };
  }
}

/**
 * An execution ended TIMED_OUT, ABORTED or FAILED: compensate its operation with the compensation of the
 * operation's own workflow (read from the operation record), then log how it ended.
 */
export async function compensateEndedExecution(deps: WorkflowPorts, input: WorkflowInput, status: UncaughtExecutionStatus, executionArn?: string): Promise<void> {
  const operation = await deps.operations.find(input.operationId);
  if (!operation) {
    // It ended before writing its operation (a hard delete stopped before its claim): nothing was changed to undo.
    logger.warn('An execution ended without its Catch before writing its operation: nothing to compensate', { operationId: input.operationId, tenantId: input.tenantId, status, executionArn });
    return;
  }
  logFor(operation.workflow, input);
  logger.warn(`Compensating a ${operation.workflow} execution that ended without its Catch`, { status, executionArn });
  await compensate(deps, operation.workflow, input, executionEndedFailure(operation.workflow, status));
  await logOutcome(deps, input.operationId);
}
