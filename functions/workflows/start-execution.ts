/**
 * Starting a workflow's execution once its operation is written (the tenant's initiate event and the operation
 * record, one transaction): the execution is named after the operation, so a repeated start is a no-op.
 */
import { logger } from '../shared/powertools';
import type { StepFailure, WorkflowInput } from './workflow-definition';
import type { WorkflowName, WorkflowRunner } from './workflow-runner';

/** Tries of a start, and the first pause between them (doubled each time), ms. */
const START_TRIES = 3;
const START_BACKOFF_MS = 200;

/**
 * Start `workflow`'s execution for `input` (named after its operation, with `{ operation: input }` as the
 * execution input), with three tries; the last failure is thrown.
 */
export async function startExecution(deps: { readonly runner: WorkflowRunner }, workflow: WorkflowName, input: WorkflowInput): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await deps.runner.start(workflow, input.operationId, { operation: input });
      return;
    } catch (error) {
      if (attempt >= START_TRIES - 1) throw error;
      await new Promise((resolve) => setTimeout(resolve, START_BACKOFF_MS * 2 ** attempt));
    }
  }
}

/**
 * Start the execution (startExecution); if it still cannot start, undo the operation with `compensate`, handed
 * a `WorkflowStartFailed` failure, and answer false. True when started.
 */
export async function startOrUndo(
  deps: { readonly runner: WorkflowRunner },
  workflow: WorkflowName,
  input: WorkflowInput,
  compensate: (failure: StepFailure) => Promise<unknown>,
): Promise<boolean> {
  try {
    await startExecution(deps, workflow, input);
    return true;
  } catch (error) {
    logger.error('Could not start the workflow; rolling back', { workflow, operationId: input.operationId, error: error as Error });
    await compensate({ Error: 'WorkflowStartFailed', Cause: `The workflow could not be started: ${(error as Error)?.message ?? String(error)}` });
    return false;
  }
}
