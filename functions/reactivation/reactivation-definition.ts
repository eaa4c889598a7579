/**
 * The reactivation (win-back) workflow's entry in the workflow registry (functions/workflows/registry.ts): data
 * only; the steps are in reactivation-workflow.ts (loaded by the functions that run them).
 *
 * A tenant comes back from `suspended`, `deleting` (within retention) or `deleted` through
 * statemachines/reactivation.asl.json: its soft delete's schedules cancelled, the old data purged first when it
 * starts fresh, billing recreated (the billing port), the plan's resources provisioned, then
 * `complete_reactivation`; any failure is `fail_reactivation` back to where it came from, with what it made undone
 * and the schedules it cancelled re-armed.
 */
import { LIFECYCLE_TABLE } from '../lifecycle/lifecycle-table';
import type { PlanId } from '../plans/plan-catalog';
import type { WorkflowDefinition } from '../workflows/workflow-definition';

export const REACTIVATION_WORKFLOW = {
  name: 'reactivation',
  title: 'reactivation',
  description: 'Reactivation (win-back) from suspended, soft-deleted or deleted: schedules cancelled, old data purged for a fresh start, billing and resources recreated, back to active; any failure returns the tenant where it came from.',
  asl: 'statemachines/reactivation.asl.json',
  taskFunctionPlaceholder: 'ReactivationTaskFunctionArn',
  events: { initiates: ['resume', 'cancel_deletion', 'reactivate_deleted'], completes: ['complete_reactivation'], rollsBackWith: ['fail_reactivation'] },
  scheduleTargets: [],
  // The ASL's own TimeoutSeconds: a fresh start purges every data source first (the hard delete's purge of a large
  // tenant fits well within 6 h, and this one is the same work).
  timeoutSeconds: 6 * 3600,
  // Past the timeout plus the "execution ended badly" rule's retries.
  stuckAfterSeconds: 6 * 3600 + 30 * 60,
  // Lambda's maximum; the longest Task TimeoutSeconds in the ASL (Purge, 840 s) stays below it.
  taskTimeoutSeconds: 900,
  // The task cancels the soft delete's schedules, purges every data source for a fresh start (documents, vectors,
  // exports), bills and provisions; the compensation undoes billing and provisioning and re-arms the schedules
  // (never deletes one: the task's FailReactivation step, which runs the same undo, has `schedules` already).
  reaches: {
    task: ['billing', 'vectors:provision', 'vectors:delete', 'documents:delete', 'exports:delete', 'schedules'],
    compensation: ['billing', 'vectors:provision', 'schedules:rearm'],
    scheduleTargets: [],
  },
} as const satisfies WorkflowDefinition;

/**
 * Which data the tenant comes back with:
 * - `resume`: from `suspended`, its data as it was;
 * - `restore`: from `deleting` within retention, its data as it was kept;
 * - `fresh_start`: from `deleting` (its data purged first, with a certificate) or `deleted` (already purged): none
 *   of the old data.
 */
export const REACTIVATION_PATHS = ['resume', 'restore', 'fresh_start'] as const;
export type ReactivationPath = (typeof REACTIVATION_PATHS)[number];

/**
 * The states a tenant is reactivated from (where `fail_reactivation` returns it), as the lifecycle table has them:
 * a suspended tenant resumes, a soft-deleted one's deletion is cancelled, a deleted one is reactivated.
 */
export const REACTIVATION_ORIGINS = {
  suspended: LIFECYCLE_TABLE.resume.from[0],
  softDeleted: LIFECYCLE_TABLE.cancel_deletion.from[0],
  deleted: LIFECYCLE_TABLE.reactivate_deleted.from[0],
} as const;
export type ReactivationOrigin = (typeof REACTIVATION_ORIGINS)[keyof typeof REACTIVATION_ORIGINS];

/** The state a reactivation holds the tenant in while it runs. */
export const REACTIVATING = LIFECYCLE_TABLE.complete_reactivation.from[0];

/**
 * The reactivation's operation input (the operation record's `input`; the execution gets the same, ids and choices
 * only). `operationId` is the execution's name.
 */
export interface ReactivationInput {
  readonly operationId: string;
  readonly tenantId: string;
  readonly path: ReactivationPath;
  readonly origin: ReactivationOrigin;
  /** The plan it comes back on (the request's, else the one it had). */
  readonly plan: PlanId;
  /** The plan it had (absent for a deleted tenant: the tombstone keeps none). */
  readonly fromPlan?: PlanId;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly reason?: string;
  /** From `deleting`: the soft delete it takes back (its requestedAt), whose schedules it cancels and, on failure, re-arms. */
  readonly deletionRequestedAt?: string;
}
