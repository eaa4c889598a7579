/**
 * What a workflow is to the engine: one registry entry (functions/workflows/registry.ts) per workflow, and one
 * steps module that does its work. Adding a workflow is an ASL file (`statemachines/<name>.asl.json`), a steps
 * module implementing WorkflowSteps, and its entry in the registry; nothing else in the engine, the CDK
 * construct or the local runner names it.
 *
 * The definition is data only (no imports of the workflow's code) so that every function may read the
 * registry (configuration reads the schedule targets) without bundling every workflow's steps and SDKs.
 */
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';

/** A one-shot schedule target the workflow owns: the name schedules carry, and the handler module it fires. */
export interface ScheduleTargetDefinition {
  /** `<workflow>.<purpose>`: the name a schedule carries and the configuration's variable is derived from. */
  readonly target: string;
  /** The handler module the schedule fires (a Lambda on AWS, called in-process locally), from the repository root. */
  readonly entry: string;
  /**
   * What its function may do to the lifecycle table: `read` for a target that only decides and starts the
   * workflow (whose steps write), `write` for one that writes itself.
   * @default 'write'
   */
  readonly tableAccess?: 'read' | 'write';
  /**
   * What its function may do to the schedules: `none`; `rearm` (read, make and re-arm, never delete: a target
   * that re-arms itself); `manage` (also delete).
   * @default 'manage'
   */
  readonly scheduleAccess?: 'none' | 'rearm' | 'manage';
}

/**
 * A feature that is not a workflow but owns one-shot schedule targets (a timer of its own): listed in the registry
 * (functions/workflows/registry.ts) beside the workflows, so the scheduler, configuration, the local stack and the
 * CDK stack find its targets the same way. Its targets' functions reach `reaches`.
 */
export interface FeatureDefinition {
  readonly name: string;
  /** What operators call it, in log lines and descriptions ("dunning ladder"). */
  readonly title: string;
  readonly scheduleTargets: readonly ScheduleTargetDefinition[];
  readonly reaches: readonly WorkflowReach[];
}

/**
 * What a workflow's functions reach beyond the lifecycle table, so that infra grants each function exactly that
 * (infra/tenant-lifecycle-stack.ts):
 * - `billing`: the billing port (the Stripe secret key, when configured);
 * - `vectors:provision`: creating, copying and deleting vector placements (the Pinecone key, when configured);
 * - `vectors:read`: reading a tenant's vectors (the Pinecone key; without Pinecone, the local vector store's
 *   `vectors/` prefix of the documents bucket);
 * - `documents:read`: the application's documents bucket, the tenants' prefix (`tenants/`), read and list;
 * - `exports:write`: the export bucket's `exports/` prefix, write, read back, list and delete;
 * - `exports:delete`: the export bucket's `exports/` prefix, list and delete only (a failed export's objects);
 * - `documents:delete`: the application's documents bucket, the tenants' prefix (`tenants/`), list and delete only;
 * - `vectors:delete`: counting and deleting a tenant's vectors (the Pinecone key; without Pinecone, list and delete
 *   under the local vector store's `vectors/` prefix of the documents bucket);
 * - `schedules`: create, update and delete the one-shot schedules of the scheduler's group (re-arming a schedule).
 * - `schedules:rearm`: create and update them only, never delete (a compensation that puts back schedules its
 *   workflow cancelled).
 */
export type WorkflowReach = 'billing' | 'vectors:provision' | 'vectors:read' | 'vectors:delete' | 'documents:read' | 'documents:delete' | 'exports:write' | 'exports:delete' | 'schedules' | 'schedules:rearm';

export interface WorkflowDefinition {
  /** The workflow's name: the operation record's `workflow`, the ASL file's name, the state machine's. */
  readonly name: string;
  /** What operators call one, in log lines and messages ("plan change"). */
  readonly title: string;
  /** One sentence for the state machine's comment. */
  readonly description: string;
  /** The Amazon States Language file, from the repository root. */
  readonly asl: string;
  /** The `${Placeholder}` of the ASL that stands for the Task function's ARN. */
  readonly taskFunctionPlaceholder: string;
  /** The lifecycle events the workflow moves a tenant with (history, metrics, documentation). */
  readonly events: {
    readonly initiates: readonly LifecycleEvent[];
    readonly completes: readonly LifecycleEvent[];
    readonly rollsBackWith: readonly LifecycleEvent[];
  };
  /** One-shot schedule targets (e.g. a change due at the end of a billing period); none for most workflows. */
  readonly scheduleTargets: readonly ScheduleTargetDefinition[];
  /** The execution's limit, seconds: the ASL's top-level TimeoutSeconds. */
  readonly timeoutSeconds: number;
  /** An operation still unfinished this long (seconds) after it started is compensated by the sweeper. */
  readonly stuckAfterSeconds: number;
  /** The Task function's own timeout, seconds: above the ASL's longest Task TimeoutSeconds, at most 900 (Lambda). */
  readonly taskTimeoutSeconds: number;
  /**
   * A legal deadline for the answer: the operations carry `dueAt` in their input, the sweeper counts those
   * unfinished near it (UnfinishedNearDue) and the workflow's alarms include one on it. `basis` names the rule.
   */
  readonly dueDate?: { readonly basis: string };
  /**
   * A metric the workflow's steps publish (Count, dimension `workflow`) when it fails in a way that must page at
   * once: one datapoint breaches its alarm.
   * @default - none; the failure-share and age alarms only
   */
  readonly failureAlarm?: { readonly metric: string; readonly description: string };
  /**
   * What the workflow's functions reach beyond the table: `task` for its Task function, `compensation` for its
   * "execution ended badly" function and the sweeper (which compensates every workflow's stuck operations),
   * `scheduleTargets` for its schedule targets' functions.
   * @default - the table only, for each of them
   */
  readonly reaches?: {
    readonly task: readonly WorkflowReach[];
    readonly compensation: readonly WorkflowReach[];
    readonly scheduleTargets: readonly WorkflowReach[];
  };
}

/** What a Catch (or the engine, for an execution that ended without one) hands to a compensation. */
export interface StepFailure {
  readonly Error: string;
  readonly Cause?: string;
}

/** The execution input's `operation`: ids and choices only, never payloads (Step Functions' 256 KB limit). */
export interface WorkflowInput {
  readonly operationId: string;
  readonly tenantId: string;
}

/**
 * A workflow's code, as the engine calls it. `Deps` are the ports the steps use (functions/workflows/ports.ts).
 * Every method is idempotent: the task handler, the "execution ended badly" handler and the sweeper may all
 * call the same compensation.
 */
export interface WorkflowSteps<Deps = unknown, Input extends WorkflowInput = WorkflowInput> {
  /** Every step the ASL's Task states may name in their `step`. */
  readonly steps: readonly string[];
  /** The steps after which the execution has ended (its outcome is logged). */
  readonly endingSteps: readonly string[];
  /**
   * Run one step; what it answers is the Task's result. `event` is the Task's whole payload, for a workflow
   * whose states hand a step more than the operation (a cursor, a source name: never records).
   */
  run(deps: Deps, step: string, input: Input, failure?: StepFailure, event?: Readonly<Record<string, unknown>>): Promise<unknown>;
  /** Undo whatever the operation did (the execution ended badly, or the sweeper found it stuck). */
  compensate(deps: Deps, input: Input, failure: StepFailure): Promise<unknown>;
  /**
   * Start an operation that waited for its time and whose schedule was lost (the sweeper calls it for overdue
   * `scheduled` operations). Absent for a workflow that schedules nothing.
   */
  startOverdue?(deps: Deps, operationId: string): Promise<unknown>;
}
