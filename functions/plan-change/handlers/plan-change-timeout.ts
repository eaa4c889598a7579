/**
 * EventBridge target for "Step Functions Execution Status Change" events of the plan-change state machine
 * with status TIMED_OUT, ABORTED or FAILED. Timed-out and aborted executions never reach their Catch, so this
 * compensates them as the Catch path would have; a FAILED one has normally compensated already (its Fail
 * state comes after the compensation) and the call is a no-op, but if the compensation itself failed this is
 * its second chance, so no tenant is left upgrading or downgrading.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { operationOutcome } from '../../operations/operation-store';
import { logger } from '../../shared/powertools';
import { workflowDependencies } from '../workflow-deps';
import { runPlanChangeStep, type PlanChangeInput } from '../plan-change-steps';

export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly status: string;
  /** The execution input, as a JSON string. */
  readonly input: string;
}

export const handler = async (event: EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusChange>): Promise<void> => {
  const { status, executionArn } = event.detail;
  if (status !== 'TIMED_OUT' && status !== 'ABORTED' && status !== 'FAILED') return;
  const operation = (JSON.parse(event.detail.input) as { operation: PlanChangeInput }).operation;
  logger.resetKeys();
  logger.setCorrelationId(operation.operationId);
  logger.appendKeys({ tenantId: operation.tenantId, operationId: operation.operationId });
  logger.warn('Compensating a plan-change execution that ended without its Catch', { status, executionArn });
  const deps = workflowDependencies();
  await runPlanChangeStep(deps, 'compensate', operation, {
    Error: status === 'TIMED_OUT' ? 'States.Timeout' : status === 'ABORTED' ? 'ExecutionAborted' : 'ExecutionFailed',
    Cause: `The plan-change execution ${status === 'TIMED_OUT' ? 'timed out' : status === 'ABORTED' ? 'was aborted' : 'failed'}.`,
  });
  logger.info('Workflow ended', { ...operationOutcome(await deps.operations.get(operation.operationId)) });
};
