/**
 * The hard-delete workflow's steps module, as the workflow engine calls it (functions/workflows/workflow-steps.ts
 * loads it on first use): its steps (hard-delete-steps.ts) and its compensation (`fail`: release the claim, the
 * operation failed, the tenant stays `deleting`). The data sources come from configuration
 * (functions/export/export-deps.ts `registrySources`, and `exportArchiveSources`); the compensation reads none.
 */
import { exportArchiveSources, registrySources } from '../export/export-deps';
import type { DataSource } from '../data-sources/data-source';
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowSteps } from '../workflows/workflow-definition';
import type { HardDeleteInput } from './hard-delete-definition';
import { HARD_DELETE_STEPS, failHardDelete, runHardDeleteStep, DataSourceUnavailableError, type HardDeleteDependencies, type HardDeleteTaskEvent } from './hard-delete-steps';

/**
 * Every place a tenant's data is erased from, in registry order (purged in reverse): the registry, and the tenant's
 * exports (copies of its data that may outlive the soft delete), purged first. The hard delete's list, and a fresh
 * start's (functions/reactivation/). A source that cannot be reached is DataSourceUnavailableError (retried).
 */
export async function erasureSources(ports: WorkflowPorts): Promise<readonly DataSource[]> {
  return [...(await registrySources(ports, (message, cause) => new DataSourceUnavailableError(message, { cause }))), ...(await exportArchiveSources())];
}

/** The steps' dependencies from the workflow ports. */
export function hardDeleteDependencies(ports: WorkflowPorts): HardDeleteDependencies {
  return {
    tenants: ports.tenants,
    operations: ports.operations,
    scheduler: ports.scheduler,
    billing: ports.billing,
    sources: () => erasureSources(ports),
    ...(ports.now ? { now: ports.now } : {}),
  };
}

export const hardDeleteSteps: WorkflowSteps<WorkflowPorts, HardDeleteInput> = {
  steps: HARD_DELETE_STEPS,
  endingSteps: ['complete', 'fail'],
  run: async (ports, step, input, failure, event) => runHardDeleteStep(hardDeleteDependencies(ports), { ...event, step, operation: input, failure } as unknown as HardDeleteTaskEvent),
  compensate: async (ports, input, failure) => failHardDelete({ ...hardDeleteDependencies(ports), sources: async () => [] }, input, failure, { compensation: true }),
};
