/**
 * The metrics every workflow emits, the same for each (CloudWatch namespace POWERTOOLS_METRICS_NAMESPACE,
 * published as EMF by Powertools): how runs end and how long they took, and how old the oldest unfinished
 * operation is. Dimensions are the workflow and the outcome only, never tenant or operation ids.
 * infra/constructs/workflow-alarms.ts alarms on them.
 */
import { MetricUnit, logger, publishMetrics } from '../shared/powertools';

export const WORKFLOW_METRICS = {
  /** Count, 1 per operation end, by `workflow` and `outcome`, and by `workflow`. */
  ended: 'WorkflowEnded',
  /** Milliseconds from when the run started (or the operation was created, if it never started) to its end. */
  duration: 'WorkflowDuration',
  /**
   * Count, per run that started (not a cancellation): 1 when it rolled back or failed, 0 when it succeeded.
   * Its Average over a window is the failure share, its SampleCount the number of runs.
   */
  failed: 'WorkflowFailed',
  /** Seconds since the oldest unfinished operation of `workflow` started running (or was created); 0 when none. */
  oldestUnfinishedAge: 'OldestUnfinishedOperationAge',
  /**
   * Count, by `workflow`: unfinished operations whose answer is due (their input's `dueAt`, as a GDPR export's
   * one month, Art. 12(3)) within DUE_SOON_SECONDS or already past it; 0 when none.
   */
  unfinishedNearDue: 'UnfinishedNearDue',
} as const;

/** How close to its `dueAt` an unfinished operation is flagged (GET /exports `overdueRisk`) and counted: 7 days, in seconds. */
export const DUE_SOON_SECONDS = 7 * 86_400;

/**
 * How an operation can end: `succeeded`; `rolled_back` (undone after it started); `cancelled` (undone before
 * it started: a scheduled change cancelled); `failed` (ended without an undo, as an export that fails does).
 */
export const WORKFLOW_OUTCOMES = ['succeeded', 'rolled_back', 'cancelled', 'failed'] as const;
export type WorkflowOutcome = (typeof WORKFLOW_OUTCOMES)[number];
/** The outcomes of runs that started: what the failure share is a share of (a cancellation never ran). */
export const RUN_OUTCOMES: readonly WorkflowOutcome[] = ['succeeded', 'rolled_back', 'failed'];
/** The outcomes operators are paged for above a share of the runs. */
export const FAILURE_OUTCOMES: readonly WorkflowOutcome[] = ['rolled_back', 'failed'];

export interface WorkflowEnd {
  readonly workflow: string;
  readonly outcome: WorkflowOutcome;
  /** ISO 8601: when the run started (the operation's `startedAt`, else its `createdAt`). */
  readonly startedAt: string;
  /** ISO 8601: the operation's `finishedAt`. */
  readonly finishedAt: string;
}

/** Milliseconds from `startedAt` to `finishedAt`; never negative (clocks of two writers may differ slightly). */
export function workflowDurationMs(end: Pick<WorkflowEnd, 'startedAt' | 'finishedAt'>): number {
  const ms = Date.parse(end.finishedAt) - Date.parse(end.startedAt);
  return Number.isFinite(ms) ? Math.max(0, ms) : 0;
}

/**
 * Count an operation's end and its duration: `WorkflowEnded` (1, Count), `WorkflowDuration` (Milliseconds)
 * and, for a run that started, `WorkflowFailed` (1 or 0, Count), by `workflow` and `outcome`, and by
 * `workflow`. Call once per end, when it has committed (the operation store does, see
 * OperationStore.finishUpdate).
 */
export function recordWorkflowEnd(end: WorkflowEnd): void {
  const ran = RUN_OUTCOMES.includes(end.outcome);
  publishMetrics(
    [{ workflow: end.workflow, outcome: end.outcome }, { workflow: end.workflow }],
    [
      { name: WORKFLOW_METRICS.ended, unit: MetricUnit.Count, value: 1 },
      { name: WORKFLOW_METRICS.duration, unit: MetricUnit.Milliseconds, value: workflowDurationMs(end) },
      ...(ran ? [{ name: WORKFLOW_METRICS.failed, unit: MetricUnit.Count, value: FAILURE_OUTCOMES.includes(end.outcome) ? 1 : 0 }] : []),
    ],
  );
}

/** Emit `OldestUnfinishedOperationAge` (Seconds, by `workflow`) for each workflow of `agesSeconds`. */
export function recordOldestUnfinished(agesSeconds: Readonly<Record<string, number>>): void {
  for (const [workflow, age] of Object.entries(agesSeconds)) {
    publishMetrics([{ workflow }], [{ name: WORKFLOW_METRICS.oldestUnfinishedAge, unit: MetricUnit.Seconds, value: age }]);
  }
}

/** Where the unfinished operations are read: OperationStore.unfinishedBefore (the byState index, oldest first). */
type UnfinishedOperation = { readonly workflow?: string; readonly createdAt?: string; readonly startedAt?: string; readonly input?: Readonly<Record<string, unknown>> };
export interface UnfinishedOperations {
  unfinishedBefore(before: Date, limit?: number): Promise<ReadonlyArray<UnfinishedOperation>>;
}

/** How many unfinished operations one measurement reads at most (normally there are a handful). */
export const UNFINISHED_READ_LIMIT = 500;

/**
 * Seconds (whole) since the oldest unfinished operation of each of `workflows` started running (or was
 * created, if it never started), at `now`; 0 for a workflow with none. One query of the unfinished-operations
 * partition, at most UNFINISHED_READ_LIMIT items: beyond that the ages are of the oldest ones read.
 */
export async function oldestUnfinishedAges(operations: UnfinishedOperations, workflows: readonly string[], now: Date): Promise<Record<string, number>> {
  return agesOf(await operations.unfinishedBefore(now, UNFINISHED_READ_LIMIT), workflows, now);
}

function agesOf(unfinished: ReadonlyArray<UnfinishedOperation>, workflows: readonly string[], now: Date): Record<string, number> {
  const ages: Record<string, number> = Object.fromEntries(workflows.map((workflow) => [workflow, 0]));
  for (const operation of unfinished) {
    const since = Date.parse(operation.startedAt ?? operation.createdAt ?? '');
    if (operation.workflow === undefined || !(operation.workflow in ages) || !Number.isFinite(since)) continue;
    ages[operation.workflow] = Math.max(ages[operation.workflow] as number, Math.floor((now.getTime() - since) / 1000));
  }
  return ages;
}

/** Per workflow, how many of `unfinished` have an input `dueAt` at most DUE_SOON_SECONDS after `now` (or past it). */
export function nearDueCounts(unfinished: ReadonlyArray<UnfinishedOperation>, workflows: readonly string[], now: Date): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(workflows.map((workflow) => [workflow, 0]));
  for (const operation of unfinished) {
    const due = Date.parse(typeof operation.input?.dueAt === 'string' ? operation.input.dueAt : '');
    if (operation.workflow === undefined || !(operation.workflow in counts) || !Number.isFinite(due)) continue;
    if (due - now.getTime() <= DUE_SOON_SECONDS * 1000) counts[operation.workflow] = (counts[operation.workflow] as number) + 1;
  }
  return counts;
}

/**
 * What the sweeper calls on each run: measure oldestUnfinishedAges and emit OldestUnfinishedOperationAge for
 * each workflow (the alarm on operations older than their workflow's timeout reads it), and UnfinishedNearDue
 * (nearDueCounts) from the same read. Never throws: a
 * failed measurement is logged and must not stop the sweep.
 */
export async function reportOldestUnfinished(operations: UnfinishedOperations, workflows: readonly string[], now: Date): Promise<void> {
  try {
    const unfinished = await operations.unfinishedBefore(now, UNFINISHED_READ_LIMIT);
    recordOldestUnfinished(agesOf(unfinished, workflows, now));
    for (const [workflow, count] of Object.entries(nearDueCounts(unfinished, workflows, now))) {
      publishMetrics([{ workflow }], [{ name: WORKFLOW_METRICS.unfinishedNearDue, unit: MetricUnit.Count, value: count }]);
    }
  } catch (error) {
    logger.warn('Could not measure the oldest unfinished operations', { error });
  }
}
