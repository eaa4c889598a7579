/**
 * The hard-delete workflow's entry in the workflow registry (functions/workflows/registry.ts): data only; the
 * steps are in hard-delete-workflow.ts (loaded by the functions that run them).
 *
 * Two one-shot schedules per soft-deleted tenant reach it (deletion-policy.ts names them): the deadline
 * (`hard-delete.deadline`, at the deadline) and the enforcement check (`hard-delete.enforcement`, just after
 * the enforcement window closes). Both are Lambda targets that start the state machine with an execution named
 * after the firing, so a schedule delivered twice starts one execution; the state machine itself decides
 * whether it may run (the window, a legal hold, the tenant's state).
 */
import type { WorkflowDefinition } from '../workflows/workflow-definition';

export const HARD_DELETE_WORKFLOW = {
  name: 'hard-delete',
  title: 'hard delete',
  description: 'Erasure at the end of retention (GDPR Art. 17): window check, purge every data source, verify it empty, delete the billing customer, tombstone and deletion certificate.',
  asl: 'statemachines/hard-delete.asl.json',
  taskFunctionPlaceholder: 'HardDeleteTaskFunctionArn',
  events: { initiates: [], completes: ['complete_deletion'], rollsBackWith: [] },
  scheduleTargets: [
    // The deadline only starts the state machine; the check reads the tenant, starts it or re-arms itself.
    { target: 'hard-delete.deadline', entry: 'functions/deletion/handlers/deadline.ts', tableAccess: 'read', scheduleAccess: 'none' },
    { target: 'hard-delete.enforcement', entry: 'functions/deletion/handlers/enforcement-check.ts', tableAccess: 'read', scheduleAccess: 'rearm' },
  ],
  // The ASL's own TimeoutSeconds: a large tenant's purge (100,000 documents, 50,000 vectors) and the residual-data
  // retries fit well within 6 h.
  timeoutSeconds: 6 * 3600,
  // Past the timeout plus the "execution ended badly" rule's retries.
  stuckAfterSeconds: 6 * 3600 + 30 * 60,
  // Lambda's maximum (900 s); the longest Task TimeoutSeconds in the ASL (Purge, 840 s) stays below it.
  taskTimeoutSeconds: 900,
  // hard-delete-steps.ts HARD_DELETE_FAILED_METRIC: a hard delete that failed pages at once (data may remain past its deadline).
  failureAlarm: {
    metric: 'HardDeleteFailed',
    description: 'A hard delete failed (residual data, billing, a step error): the tenant stays deleting with its data past the deadline. See the operation record; the enforcement check or the sweeper tries again.',
  },
  // The task counts and deletes every data source (documents and vectors; billing history lists invoices and the
  // customer is deleted) and re-arms its own schedule (early firing, legal hold); the compensation (fail) reads
  // and writes the table only.
  reaches: { task: ['billing', 'vectors:delete', 'documents:delete', 'exports:delete', 'schedules'], compensation: [], scheduleTargets: [] },
} as const satisfies WorkflowDefinition;

/** The schedule targets, by purpose. */
export const DEADLINE_TARGET = HARD_DELETE_WORKFLOW.scheduleTargets[0].target;
export const ENFORCEMENT_TARGET = HARD_DELETE_WORKFLOW.scheduleTargets[1].target;

/** What started a hard delete: its schedule at the deadline, the enforcement check, the sweeper, or a legal hold's release. */
export type HardDeleteTrigger = 'deadline' | 'enforcement-check' | 'sweeper' | 'hold-released';

/**
 * The hard-delete execution's `operation`: the engine's WorkflowInput plus the trigger and when it was due.
 * `operationId` is the execution's name, derived from the tenant, the trigger and `scheduledAt`, so a schedule
 * delivered twice starts one execution.
 */
export interface HardDeleteInput {
  readonly operationId: string;
  readonly tenantId: string;
  readonly trigger: HardDeleteTrigger;
  /** When the firing was due (the schedule's time; the sweeper's run time): lateness is measured from the window. */
  readonly scheduledAt: string;
  /** The soft delete this firing belongs to (its requestedAt): a firing of an earlier, cancelled one does nothing. */
  readonly deletionRequestedAt: string;
}
