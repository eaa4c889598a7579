/**
 * The local stand-in for Step Functions: the real ASL file, executed in-process by aws-local-stepfunctions,
 * with each Task state bound to the same step function the deployed task Lambda runs. A workflow timeout is
 * handled as on AWS, where an EventBridge rule sends timed-out executions to the compensation step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { operationOutcome, type OperationOutcome } from '../../functions/operations/operation-store';
import { runPlanChangeStep, type PlanChangeDependencies, type PlanChangeInput, type PlanChangeStep, type StepFailure } from '../../functions/plan-change/plan-change-steps';
import type { WorkflowName, WorkflowRunner } from '../../functions/workflows/workflow-runner';

// aws-local-stepfunctions uses Promise.withResolvers (Node 22+); Node 20 needs this.
const promiseWithResolvers = Promise as unknown as { withResolvers?: <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } };
promiseWithResolvers.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const STATEMACHINES = join(__dirname, '..', '..', 'statemachines');
/** What the stack substitutes for each placeholder; locally any well-formed ARN, since Tasks are overridden. */
export const LOCAL_SUBSTITUTIONS: Readonly<Record<string, string>> = {
  PlanChangeTaskFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-plan-change-task',
  ExportTaskFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:local-export-task',
};

/** The ASL of a workflow with its `${Placeholder}`s substituted; throws on a placeholder left unknown. */
export function loadDefinition(workflow: WorkflowName, substitutions: Readonly<Record<string, string>> = LOCAL_SUBSTITUTIONS): Record<string, unknown> {
  const text = readFileSync(join(STATEMACHINES, `${workflow}.asl.json`), 'utf8').replace(/\$\{(\w+)\}/g, (_match, name: string) => {
    const value = substitutions[name];
    if (value === undefined) throw new Error(`No substitution for \${${name}} in ${workflow}.asl.json`);
    return value;
  });
  return JSON.parse(text) as Record<string, unknown>;
}

/** A test hook: throw from a Task state before or after its work (after = the work happened, the answer was lost). */
export type FaultInjector = (state: string, phase: 'before' | 'after', input: PlanChangeInput) => void | Promise<void>;

interface TaskEvent {
  readonly step: PlanChangeStep;
  readonly operation: PlanChangeInput;
  readonly failure?: StepFailure;
}

export interface LocalWorkflowRunnerOptions {
  readonly planChange: () => PlanChangeDependencies;
  readonly faults?: FaultInjector;
  /** Override Retry pauses (ms) to make tests fast; real intervals when omitted. */
  readonly retryIntervalMs?: number;
  /** Replace the ASL's execution TimeoutSeconds (timeout tests). */
  readonly timeoutSeconds?: number;
  /** Called with an execution's unexpected error (one that is neither success nor a compensated rollback). */
  readonly onError?: (error: unknown) => void;
  /** Called once an execution has ended, with its operation as the store has it then (status, cause). */
  readonly onOutcome?: (outcome: OperationOutcome) => void;
}

export class LocalWorkflowRunner implements WorkflowRunner {
  readonly #options: LocalWorkflowRunnerOptions;
  readonly #running = new Set<Promise<unknown>>();
  /** Execution names started by this runner (Step Functions keeps them 90 days; this process, for its life). */
  readonly #started = new Set<string>();
  readonly #machine: StateMachine;
  readonly #taskStates: string[];

  constructor(options: LocalWorkflowRunnerOptions) {
    this.#options = options;
    const definition = loadDefinition('plan-change');
    if (options.timeoutSeconds !== undefined) definition.TimeoutSeconds = options.timeoutSeconds;
    this.#machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
    const states = definition.States as Record<string, { Type: string }>;
    this.#taskStates = Object.entries(states)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => name);
  }

  async start(workflow: WorkflowName, executionName: string, input: Record<string, unknown>): Promise<void> {
    if (workflow !== 'plan-change') throw new Error(`Unknown workflow ${workflow}`);
    // The port's contract, as Step Functions keeps it: an execution name is used once, so starting the same
    // name again (a redelivered schedule, a retried start) is a no-op instead of a second execution.
    if (this.#started.has(executionName)) return;
    this.#started.add(executionName);
    const operation = (input as { operation: PlanChangeInput }).operation;
    const handlers = Object.fromEntries(
      this.#taskStates.map((state) => [
        state,
        async (event: TaskEvent) => {
          await this.#options.faults?.(state, 'before', event.operation);
          const result = await runPlanChangeStep(this.#options.planChange(), event.step, event.operation, event.failure);
          await this.#options.faults?.(state, 'after', event.operation);
          return result;
        },
      ]),
    );
    const retryIntervalOverrides = this.#options.retryIntervalMs === undefined ? undefined : Object.fromEntries(this.#taskStates.map((state) => [state, this.#options.retryIntervalMs as number]));
    const execution = this.#machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: { Execution: { Name: executionName, Input: input, StartTime: new Date().toISOString() } } as never,
    });
    const done = execution.result
      .catch(async (error: unknown) => {
        if (error instanceof ExecutionTimeoutError) {
          // As on AWS: the execution-status rule hands a timed-out execution to the compensation step.
          await runPlanChangeStep(this.#options.planChange(), 'compensate', operation, { Error: 'States.Timeout', Cause: 'The plan-change workflow timed out.' });
          return;
        }
        // As on AWS for FAILED executions: a second chance for a compensation that failed (a no-op otherwise).
        await runPlanChangeStep(this.#options.planChange(), 'compensate', operation, { Error: 'ExecutionFailed', Cause: 'The plan-change execution failed.' });
        // A Fail state (PlanChangeRolledBack) ends a compensated execution: expected, nothing more to do.
        if (error instanceof ExecutionError && (error.cause as Error | undefined)?.name === 'PlanChangeRolledBack') return;
        this.#options.onError?.(error);
      })
      .catch((error: unknown) => this.#options.onError?.(error))
      .then(async () => {
        if (this.#options.onOutcome) this.#options.onOutcome(operationOutcome(await this.#options.planChange().operations.get(operation.operationId)));
      })
      .catch((error: unknown) => this.#options.onError?.(error))
      .finally(() => this.#running.delete(done));
    this.#running.add(done);
  }

  /** Resolve when every execution started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
