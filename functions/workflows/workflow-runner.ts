/**
 * The workflow runner port: start a named workflow execution. On AWS, Step Functions (StartExecution on the
 * state machine built from statemachines/<workflow>.asl.json); locally, the same ASL executed in-process
 * (infra/local/local-workflow-runner.ts), installed with setWorkflowRunner at start-up.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { config, ConfigurationError } from '../shared/config';
import { onFirstUse } from '../shared/on-first-use';
import type { WorkflowName } from './registry';

export { WORKFLOWS, type WorkflowName } from './registry';

export interface WorkflowRunner {
  /** Start `workflow` as execution `executionName` (the operation id); starting the same name twice is a no-op. */
  start(workflow: WorkflowName, executionName: string, input: Record<string, unknown>): Promise<void>;
}

/**
 * Step Functions adapter; the state machine ARNs come from configuration. The SDK is loaded on the first
 * start, not at cold init: most invocations of the functions that hold a runner start nothing.
 * `client`: the client, or how to make it on first use.
 */
export class StepFunctionsRunner implements WorkflowRunner {
  readonly #client: () => Promise<SFNClient>;
  readonly #stateMachineArns: Readonly<Partial<Record<WorkflowName, string>>>;

  constructor(options: { client: SFNClient | (() => Promise<SFNClient>); stateMachineArns: Partial<Record<WorkflowName, string>> }) {
    const { client } = options;
    this.#client = typeof client === 'function' ? onFirstUse(client) : () => Promise.resolve(client);
    this.#stateMachineArns = options.stateMachineArns;
  }

  async start(workflow: WorkflowName, executionName: string, input: Record<string, unknown>): Promise<void> {
    const stateMachineArn = this.#stateMachineArns[workflow];
    if (!stateMachineArn) throw new ConfigurationError(`No state machine ARN configured for workflow '${workflow}'.`);
    const [client, { ExecutionAlreadyExists, StartExecutionCommand }] = await Promise.all([this.#client(), import('@aws-sdk/client-sfn')]);
    try {
      await client.send(new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(input) }));
    } catch (error) {
      // Same name and same input within 90 days: Step Functions' own idempotency; the execution is running.
      if (!(error instanceof ExecutionAlreadyExists)) throw error;
    }
  }
}

let runner: WorkflowRunner | undefined;

/** The runner in use: the installed one, else Step Functions from configuration. */
export function workflowRunner(): WorkflowRunner {
  runner ??= new StepFunctionsRunner({
    client: async () => new (await import('@aws-sdk/client-sfn')).SFNClient({ region: config.region, endpoint: config.stepFunctionsEndpoint }),
    stateMachineArns: config.stateMachineArns,
  });
  return runner;
}

/** Install a runner (the local stack and tests install the in-process one). */
export function setWorkflowRunner(next: WorkflowRunner): void {
  runner = next;
}
