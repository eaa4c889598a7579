/**
 * The last line of defence against a tenant left mid-operation, and against a lost schedule, for every
 * workflow of the registry:
 * - operations still unfinished long after their workflow's own timeout (its `stuckAfterSeconds`) are
 *   compensated, each by its own workflow's compensation. That covers a crash between the initiate write and
 *   the start of the execution, a scheduling that crashed half-way, and a compensation whose retries and
 *   dead-letter handling all failed;
 * - scheduled operations overdue by more than the scheduler's delivery would ever be late are started by
 *   their workflow, as their schedule would have (a schedule deleted by hand, a delivery that went to the
 *   dead-letter queue).
 */
import * as clock from '../shared/clock';
import type { Operation } from '../operations/operation-store';
import { logger } from '../shared/powertools';
import type { WorkflowPorts } from './ports';
import { WORKFLOWS, workflowDefinition, workflowDefinitions } from './registry';
import { reportOldestUnfinished } from './workflow-metrics';
import { workflowSteps } from './workflow-steps';

/** The shortest `stuckAfterSeconds` of the built-in workflows: how far back the sweep looks by default. */
export const STUCK_AFTER_SECONDS = Math.min(...workflowDefinitions().map((definition) => definition.stuckAfterSeconds));
/**
 * A scheduled operation this long past its start lost its schedule (the scheduler delivers within the minute);
 * with the sweep every 10 minutes it still starts well before it is due (a period-end change leads it by 16 minutes).
 */
export const OVERDUE_AFTER_SECONDS = 5 * 60;

export interface SweepResult {
  readonly examined: number;
  readonly compensated: string[];
  /** Scheduled operations whose schedule was lost, started (or cancelled, if no longer wanted) by the sweeper. */
  readonly overdueStarted: string[];
  readonly failed: string[];
}

export interface SweepOptions {
  readonly now?: Date;
  /** One limit for every workflow (the local stack's start uses 0: nothing survives a restart); else each workflow's own. */
  readonly stuckAfterSeconds?: number;
  readonly overdueAfterSeconds?: number;
}

/** How long operations of `workflow` may stay unfinished; unknown workflows get the shortest limit. */
function stuckAfter(workflow: string, options: SweepOptions): number {
  if (options.stuckAfterSeconds !== undefined) return options.stuckAfterSeconds;
  try {
    return workflowDefinition(workflow).stuckAfterSeconds;
  } catch {
    return STUCK_AFTER_SECONDS;
  }
}

async function compensateStuck(deps: WorkflowPorts, operation: Operation, stuckAfterSeconds: number): Promise<void> {
  const steps = await workflowSteps(operation.workflow);
  await steps.compensate(deps, operation.input as unknown as Operation['input'] & { operationId: string; tenantId: string }, {
    Error: 'OperationStuck',
    Cause: `The operation was still ${operation.status} ${stuckAfterSeconds} s after it started; the sweeper rolled it back.`,
  });
}

async function startOverdue(deps: WorkflowPorts, operation: Operation) {
  const steps = await workflowSteps(operation.workflow);
  if (!steps.startOverdue) throw new Error(`Workflow '${operation.workflow}' schedules nothing, yet operation '${operation.operationId}' is scheduled.`);
  return steps.startOverdue(deps, operation.operationId);
}

/** What operators call an operation of `workflow` in the sweeper's log lines. */
function titleOf(workflow: string): string {
  try {
    return workflowDefinition(workflow).title;
  } catch {
    return `${workflow} operation`;
  }
}

export async function sweepStuckOperations(deps: WorkflowPorts, options: SweepOptions = {}): Promise<SweepResult> {
  const now = options.now ?? clock.now();
  // Before compensating: the alarm on operations older than their workflow's timeout must see the stuck ones.
  await reportOldestUnfinished(deps.operations, WORKFLOWS, now);
  const lookBack = options.stuckAfterSeconds ?? Math.min(...workflowDefinitions().map((definition) => definition.stuckAfterSeconds));
  const unfinished = await deps.operations.unfinishedBefore(new Date(now.getTime() - lookBack * 1000));
  // Each workflow's own limit: an operation of a longer workflow is not stuck yet at the shortest one's.
  const stuck = unfinished.filter((operation) => Date.parse(operation.createdAt) <= now.getTime() - stuckAfter(operation.workflow, options) * 1000 || Number.isNaN(Date.parse(operation.createdAt)));
  const overdue = await deps.operations.scheduledDueBefore(new Date(now.getTime() - (options.overdueAfterSeconds ?? OVERDUE_AFTER_SECONDS) * 1000));
  const compensated: string[] = [];
  const overdueStarted: string[] = [];
  const failed: string[] = [];
  for (const operation of stuck) {
    try {
      await compensateStuck(deps, operation, stuckAfter(operation.workflow, options));
      compensated.push(operation.operationId);
    } catch (error) {
      failed.push(operation.operationId);
      logger.error('Sweeper could not compensate a stuck operation', { operationId: operation.operationId, tenantId: operation.tenantId, workflow: operation.workflow, error });
    }
  }
  for (const operation of overdue) {
    try {
      const result = await startOverdue(deps, operation);
      logger.warn(`Started a scheduled ${titleOf(operation.workflow)} whose schedule was lost`, { ...(result as object), workflow: operation.workflow, effectiveAt: operation.effectiveAt });
      overdueStarted.push(operation.operationId);
    } catch (error) {
      failed.push(operation.operationId);
      logger.error(`Sweeper could not start an overdue scheduled ${titleOf(operation.workflow)}`, { operationId: operation.operationId, tenantId: operation.tenantId, workflow: operation.workflow, error });
    }
  }
  const examined = stuck.length + overdue.length;
  if (examined > 0) logger.warn('Swept operations', { examined, compensated, overdueStarted, failed });
  return { examined, compensated, overdueStarted, failed };
}
