/**
 * The reactivation workflow's steps module, as the workflow engine calls it (functions/workflows/workflow-steps.ts
 * loads it on first use): its steps (reactivation-steps.ts) and its compensation (`fail`: undo billing and
 * provisioning, re-arm the soft delete's schedules, back to where the tenant came from). The data sources a fresh
 * start purges are the hard delete's: the registry and the tenant's exports (functions/export/export-deps.ts).
 */
import { erasureSources } from '../deletion/hard-delete-workflow';
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowSteps } from '../workflows/workflow-definition';
import type { ReactivationInput } from './reactivation-definition';
import { REACTIVATION_STEPS, failReactivation, runReactivationStep, type ReactivationDependencies, type ReactivationTaskEvent } from './reactivation-steps';

/** The steps' dependencies from the workflow ports. */
export function reactivationDependencies(ports: WorkflowPorts): ReactivationDependencies {
  return {
    tenants: ports.tenants,
    operations: ports.operations,
    scheduler: ports.scheduler,
    billing: ports.billing,
    provisioner: ports.provisioner,
    sources: () => erasureSources(ports),
    ...(ports.now ? { now: ports.now } : {}),
  };
}

export const reactivationSteps: WorkflowSteps<WorkflowPorts, ReactivationInput> = {
  steps: REACTIVATION_STEPS,
  endingSteps: ['complete', 'fail'],
  run: async (ports, step, input, failure, event) => runReactivationStep(reactivationDependencies(ports), { ...event, step, operation: input, failure } as unknown as ReactivationTaskEvent),
  // The compensation reads no data source (a purge is not undone).
  compensate: async (ports, input, failure) => failReactivation({ ...reactivationDependencies(ports), sources: async () => [] }, input, failure),
};
