/**
 * A WorkflowRunner that records the executions asked for instead of running them, with Step Functions' name
 * rule: a second start with the same execution name starts nothing. `fail` makes the next starts throw.
 */
import type { WorkflowName, WorkflowRunner } from '../../functions/workflows/workflow-runner';

export interface RecordedExecution {
  readonly workflow: WorkflowName;
  readonly name: string;
  readonly input: Record<string, unknown>;
}

export class RecordingRunner implements WorkflowRunner {
  readonly executions: RecordedExecution[] = [];
  /** Starts asked for, duplicates included. */
  requests = 0;
  /** While above 0, each start throws and counts down. */
  failNext = 0;

  async start(workflow: WorkflowName, name: string, input: Record<string, unknown>): Promise<void> {
    this.requests += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('Step Functions is unavailable (injected)');
    }
    if (this.executions.some((execution) => execution.workflow === workflow && execution.name === name)) return;
    this.executions.push({ workflow, name, input });
  }

  /** The `operation` inputs of the executions of `workflow` for `tenantId`, in start order. */
  operations(workflow: WorkflowName, tenantId: string): Array<Record<string, unknown>> {
    return this.executions
      .filter((execution) => execution.workflow === workflow && (execution.input.operation as { tenantId?: string }).tenantId === tenantId)
      .map((execution) => execution.input.operation as Record<string, unknown>);
  }

  reset(): void {
    this.executions.length = 0;
    this.requests = 0;
    this.failNext = 0;
  }
}
