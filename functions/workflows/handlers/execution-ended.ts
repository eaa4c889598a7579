/**
 * EventBridge target for "Step Functions Execution Status Change" events of a workflow's state machine with
 * status TIMED_OUT, ABORTED or FAILED. Timed-out and aborted executions never reach their Catch, so this
 * compensates them as the Catch path would have; a FAILED one has normally compensated already (its Fail
 * state comes after the compensation) and the call is a no-op, but if the compensation itself failed this is
 * its second chance, so no tenant is left mid-operation. The compensation is the one of the operation's own
 * workflow (its record's `workflow`).
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { compensateEndedExecution, UNCAUGHT_EXECUTION_STATUSES, type UncaughtExecutionStatus } from '../engine';
import type { WorkflowInput } from '../workflow-definition';
import { workflowDependencies } from '../workflow-deps';

export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly status: string;
  /** The execution input, as a JSON string. */
  readonly input: string;
}

export const handler = async (event: EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusChange>): Promise<void> => {
  const { status, executionArn } = event.detail;
  if (!(UNCAUGHT_EXECUTION_STATUSES as readonly string[]).includes(status)) return;
  const operation = (JSON.parse(event.detail.input) as { operation: WorkflowInput }).operation;
  await compensateEndedExecution(workflowDependencies(), operation, status as UncaughtExecutionStatus, executionArn);
};
