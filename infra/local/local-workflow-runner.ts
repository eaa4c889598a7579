/**
 * The local stand-in for Step Functions: each workflow's real ASL file, executed in-process by
 * aws-local-stepfunctions, with each Task state bound to the same steps module the deployed task Lambda runs.
 * Executions that end badly are handled as on AWS, where an EventBridge rule sends timed-out, aborted and
 * failed executions to the compensation of their workflow.
 */
import * as clock from '../../functions/shared/clock';
import { outsideTableGrant } from '../../functions/shared/table-grant-scope';
import { ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import { executionEndedFailure } from '../../functions/workflows/engine';
import { operationOutcome, type OperationOutcome } from '../../functions/operations/operation-store';
import type { WorkflowPorts } from '../../functions/workflows/ports';
import { workflowDefinition, workflowDefinitions } from '../../functions/workflows/registry';
import type { StepFailure, WorkflowInput } from '../../functions/workflows/workflow-definition';
import type { WorkflowName, WorkflowRunner } from '../../functions/workflows/workflow-runner';
import { workflowSteps } from '../../functions/workflows/workflow-steps';
import { filledDefinition } from '../workflow-asl';

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

/** A well-formed Lambda ARN for a workflow's Task placeholder: locally the Tasks are overridden, never invoked. */
function localTaskArn(workflow: string): string {
  return `arn:aws:lambda:us-east-1:000000000000:function:local-${workflow}-task`;
}

/** What the stack substitutes for each placeholder of every workflow of the registry, as the local runner does. */
export function localSubstitutions(): Readonly<Record<string, string>> {
  return Object.fromEntries(workflowDefinitions().map((definition) => [definition.taskFunctionPlaceholder, localTaskArn(definition.name)]));
}

/** The built-in workflows' substitutions (tests compare the ASL files' placeholders against them). */
export const LOCAL_SUBSTITUTIONS: Readonly<Record<string, string>> = localSubstitutions();

/** The ASL of a workflow with its `${Placeholder}`s substituted; throws on a placeholder left unknown. */
export function loadDefinition(workflow: string, substitutions: Readonly<Record<string, string>> = localSubstitutions()): Record<string, unknown> {
  return filledDefinition(workflowDefinition(workflow), substitutions);
}

/** The input a Task state hands its step: the operation, with the workflow's own fields. */
export type TaskInput = WorkflowInput & Readonly<Record<string, unknown>>;

interface AslState {
  readonly Type: string;
  readonly ItemProcessor?: { readonly States: Record<string, AslState> };
  readonly Iterator?: { readonly States: Record<string, AslState> };
  readonly Branches?: readonly { readonly States: Record<string, AslState> }[];
}

/** Every Task state's name, also those inside Map (ItemProcessor, Iterator) and Parallel branches. */
export function taskStateNames(states: Readonly<Record<string, AslState>>): string[] {
  return Object.entries(states).flatMap(([name, state]) => [
    ...(state.Type === 'Task' ? [name] : []),
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].flatMap((inner) => (inner ? taskStateNames(inner.States) : [])),
  ]);
}

/**
 * A test hook: throw from a Task state before or after its work (after = the work happened, the answer was lost).
 * `event` is the Task's whole payload (for a Map iteration, the item it works on: a data source's name).
 */
export type FaultInjector = (state: string, phase: 'before' | 'after', input: TaskInput, event?: Readonly<Record<string, unknown>>) => void | Promise<void>;

interface TaskEvent {
  readonly step: string;
  readonly operation: TaskInput;
  readonly failure?: StepFailure;
}

export interface LocalWorkflowRunnerOptions {
  /** The ports every workflow's steps are given. */
  readonly dependencies: () => WorkflowPorts;
  readonly faults?: FaultInjector;
  /** Override Retry pauses (ms) to make tests fast; real intervals when omitted. */
  readonly retryIntervalMs?: number;
  /** Replace the ASL's execution TimeoutSeconds (timeout tests). */
  readonly timeoutSeconds?: number;
  /** Called with an execution's unexpected error (one that is neither success nor a compensated rollback). */
  readonly onError?: (error: unknown) => void;
  /** Called once an execution has ended, with its operation as the store has it then (status, cause). */
  readonly onOutcome?: (outcome: OperationOutcome) => void;
  /**
   * Called after each Task state that answered, with its answer (ids, counts, cursors: never records): how
   * `npm start` prints progress of long runs. A throw here is reported to onError, never to the execution.
   */
  readonly onStep?: (step: { readonly workflow: string; readonly state: string; readonly operation: TaskInput; readonly result: unknown }) => void;
}

interface LoadedMachine {
  readonly machine: StateMachine;
  readonly taskStates: readonly string[];
  /** The Error names of the ASL's Fail states: how an execution that compensated ends. */
  readonly failErrors: ReadonlySet<string>;
}

export class LocalWorkflowRunner implements WorkflowRunner {
  readonly #options: LocalWorkflowRunnerOptions;
  readonly #running = new Set<Promise<unknown>>();
  /** Execution names started by this runner (Step Functions keeps them 90 days; this process, for its life). */
  readonly #started = new Set<string>();
  readonly #machines = new Map<string, LoadedMachine>();

  constructor(options: LocalWorkflowRunnerOptions) {
    this.#options = options;
    // Read every built-in ASL now, so a broken file fails at start-up as `cdk synth` would.
    for (const definition of workflowDefinitions()) this.#machine(definition.name);
  }

  #machine(workflow: string): LoadedMachine {
    const loaded = this.#machines.get(workflow);
    if (loaded) return loaded;
    const definition = loadDefinition(workflow);
    if (this.#options.timeoutSeconds !== undefined) definition.TimeoutSeconds = this.#options.timeoutSeconds;
    const states = Object.entries(definition.States as Record<string, { Type: string; Error?: string }>);
    const machine = {
      machine: new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } }),
      taskStates: taskStateNames(definition.States as Record<string, AslState>),
      failErrors: new Set(states.flatMap(([, state]) => (state.Type === 'Fail' && state.Error ? [state.Error] : []))),
    };
    this.#machines.set(workflow, machine);
    return machine;
  }

  /**
   * Start an execution. It runs outside the table grant of the route that started it (if any): on AWS a workflow's
   * steps run under their own functions' roles, not the route's.
   */
  start(workflow: WorkflowName, executionName: string, input: Record<string, unknown>): Promise<void> {
    return outsideTableGrant(() => this.#start(workflow, executionName, input));
  }

  async #start(workflow: WorkflowName, executionName: string, input: Record<string, unknown>): Promise<void> {
    const { machine, taskStates, failErrors } = this.#machine(workflow);
    const steps = await workflowSteps(workflow);
    // The port's contract, as Step Functions keeps it: an execution name is used once, so starting the same
    // name again (a redelivered schedule, a retried start) is a no-op instead of a second execution.
    if (this.#started.has(executionName)) return;
    this.#started.add(executionName);
    const operation = (input as { operation: TaskInput }).operation;
    const deps = () => this.#options.dependencies();
    const handlers = Object.fromEntries(
      taskStates.map((state) => [
        state,
        async (event: TaskEvent) => {
          await this.#options.faults?.(state, 'before', event.operation, event as unknown as Readonly<Record<string, unknown>>);
          const result = await steps.run(deps(), event.step, event.operation, event.failure, event as unknown as Readonly<Record<string, unknown>>);
          await this.#options.faults?.(state, 'after', event.operation, event as unknown as Readonly<Record<string, unknown>>);
          try {
            this.#options.onStep?.({ workflow, state, operation: event.operation, result });
          } catch (error) {
            this.#options.onError?.(error);
          }
          return result;
        },
      ]),
    );
    const retryIntervalOverrides = this.#options.retryIntervalMs === undefined ? undefined : Object.fromEntries(taskStates.map((state) => [state, this.#options.retryIntervalMs as number]));
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
      context: { Execution: { Name: executionName, Input: input, StartTime: clock.now().toISOString() } } as never,
    });
    const done = execution.result
      .catch(async (error: unknown) => {
        if (error instanceof ExecutionTimeoutError) {
          // As on AWS: the execution-status rule hands a timed-out execution to its workflow's compensation.
          await steps.compensate(deps(), operation, executionEndedFailure(workflow, 'TIMED_OUT'));
          return;
        }
        // As on AWS for FAILED executions: a second chance for a compensation that failed (a no-op otherwise).
        await steps.compensate(deps(), operation, executionEndedFailure(workflow, 'FAILED'));
        // A Fail state of the ASL (reached after its compensation) ends a compensated execution: expected.
        if (error instanceof ExecutionError && failErrors.has((error.cause as Error | undefined)?.name ?? '')) return;
        this.#options.onError?.(error);
      })
      .catch((error: unknown) => this.#options.onError?.(error))
      .then(async () => {
        // An execution that stopped before writing its operation (a hard delete with nothing to do) has no outcome.
        const ended = this.#options.onOutcome ? await deps().operations.find(operation.operationId) : undefined;
        if (ended) this.#options.onOutcome?.(operationOutcome(ended));
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
