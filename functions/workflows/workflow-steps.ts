/**
 * The engine's dispatch: a workflow's steps module, loaded on first use by name. Only the functions that run
 * steps import this (the Task, "execution ended badly" and Sweeper functions, and the local runner), so the
 * others do not bundle any workflow's code; a `import()` keeps each steps module out of the cold start until
 * an operation of that workflow is handled.
 */
import { addWorkflowDefinition, removeWorkflowDefinition, type WorkflowName } from './registry';
import type { WorkflowDefinition, WorkflowSteps } from './workflow-definition';
import type { WorkflowPorts } from './ports';

type StepsLoader = () => Promise<WorkflowSteps<WorkflowPorts, never>>;

/** One loader per registry entry (a registry entry without one does not compile). */
const BUILT_IN: Record<WorkflowName, StepsLoader> = {
  'plan-change': async () => (await import('../plan-change/plan-change-workflow')).planChangeSteps as unknown as WorkflowSteps<WorkflowPorts, never>,
  export: async () => (await import('../export/export-workflow')).exportSteps as unknown as WorkflowSteps<WorkflowPorts, never>,
  'hard-delete': async () => (await import('../deletion/hard-delete-workflow')).hardDeleteSteps as unknown as WorkflowSteps<WorkflowPorts, never>,
  reactivation: async () => (await import('../reactivation/reactivation-workflow')).reactivationSteps as unknown as WorkflowSteps<WorkflowPorts, never>,
};

const loaders = new Map<string, StepsLoader>(Object.entries(BUILT_IN));

/** The steps module of `workflow`; UnknownWorkflowError (from the registry) when none is registered. */
export async function workflowSteps(workflow: string): Promise<WorkflowSteps<WorkflowPorts>> {
  const load = loaders.get(workflow);
  if (!load) {
    const { UnknownWorkflowError } = await import('./registry');
    throw new UnknownWorkflowError(workflow);
  }
  return (await load()) as unknown as WorkflowSteps<WorkflowPorts>;
}

/**
 * Register a workflow at run time: its registry entry and its steps (tests, and deployments that add a
 * workflow of their own). Answers a function that unregisters it.
 */
export function registerWorkflow<Input extends { operationId: string; tenantId: string }>(definition: WorkflowDefinition, steps: WorkflowSteps<WorkflowPorts, Input>): () => void {
  addWorkflowDefinition(definition);
  loaders.set(definition.name, async () => steps as unknown as WorkflowSteps<WorkflowPorts, never>);
  return () => {
    loaders.delete(definition.name);
    removeWorkflowDefinition(definition.name);
  };
}
