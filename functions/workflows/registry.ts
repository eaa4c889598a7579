/**
 * The workflow registry: one entry per workflow (see workflow-definition.ts). Data only, so any function may
 * import it; the workflows' code is reached through workflow-steps.ts, by the functions that run steps.
 *
 * Adding a workflow: its ASL file, its steps module (loaded in workflow-steps.ts) and its definition here.
 */
import { HARD_DELETE_WORKFLOW } from '../deletion/hard-delete-definition';
import { EXPORT_WORKFLOW } from '../export/export-definition';
import { PLAN_CHANGE_WORKFLOW } from '../plan-change/plan-change-definition';
import { DUNNING_FEATURE } from '../dunning/dunning-definition';
import { REACTIVATION_WORKFLOW } from '../reactivation/reactivation-definition';
import type { FeatureDefinition, ScheduleTargetDefinition, WorkflowDefinition } from './workflow-definition';

const BUILT_IN = [PLAN_CHANGE_WORKFLOW, EXPORT_WORKFLOW, HARD_DELETE_WORKFLOW, REACTIVATION_WORKFLOW] as const satisfies readonly WorkflowDefinition[];
/** Features that own schedule targets without being workflows (see FeatureDefinition). */
const FEATURES = [DUNNING_FEATURE] as const satisfies readonly FeatureDefinition[];

/** The name of a workflow of the registry: the operation record's `workflow`. */
export type WorkflowName = (typeof BUILT_IN)[number]['name'];
export const WORKFLOWS: readonly WorkflowName[] = BUILT_IN.map((definition) => definition.name);

/** A one-shot schedule target of some workflow or feature of the registry. */
export type ScheduleTarget = (typeof BUILT_IN)[number]['scheduleTargets'][number]['target'] | (typeof FEATURES)[number]['scheduleTargets'][number]['target'];
export const SCHEDULE_TARGETS: readonly ScheduleTarget[] = [...BUILT_IN, ...FEATURES].flatMap((definition) => definition.scheduleTargets.map((target) => target.target));

/** The features of the registry (not workflows) that own schedule targets: the CDK stack gives each target its function. */
export function featureDefinitions(): readonly FeatureDefinition[] {
  return FEATURES;
}

/**
 * Every schedule target of the registry, with its owner (a workflow or a feature): the one list the local stack
 * binds to handler modules. Workflows added at run time are included.
 */
export function scheduleTargetDefinitions(): ReadonlyArray<ScheduleTargetDefinition & { readonly owner: string }> {
  return [...registered.values(), ...FEATURES].flatMap((definition) => definition.scheduleTargets.map((target) => ({ ...target, owner: definition.name })));
}

const registered = new Map<string, WorkflowDefinition>(BUILT_IN.map((definition) => [definition.name, definition]));

/** A workflow name that no registry entry has (an operation record written by a newer version, say). */
export class UnknownWorkflowError extends Error {
  readonly workflow: string;
  constructor(workflow: string) {
    super(`No workflow '${workflow}' in the registry (known: ${[...registered.keys()].join(', ')}).`);
    this.name = 'UnknownWorkflowError';
    this.workflow = workflow;
  }
}

/** The entry of `name`; UnknownWorkflowError when there is none. */
export function workflowDefinition(name: string): WorkflowDefinition {
  const definition = registered.get(name);
  if (!definition) throw new UnknownWorkflowError(name);
  return definition;
}

/** Every entry, built-in first. */
export function workflowDefinitions(): readonly WorkflowDefinition[] {
  return [...registered.values()];
}

/**
 * Add an entry at run time (tests, and deployments that extend the control plane with a workflow of their own).
 * Its code is registered with registerWorkflowSteps (workflow-steps.ts). A name already taken is refused.
 */
export function addWorkflowDefinition(definition: WorkflowDefinition): void {
  if (registered.has(definition.name)) throw new Error(`Workflow '${definition.name}' is already registered.`);
  registered.set(definition.name, definition);
}

/** Remove an entry added with addWorkflowDefinition (tests); the built-in entries stay. */
export function removeWorkflowDefinition(name: string): void {
  if (BUILT_IN.some((definition) => definition.name === name)) throw new Error(`Workflow '${name}' is built in.`);
  registered.delete(name);
}

/**
 * The environment variable that carries a workflow's state machine ARN on AWS (`plan-change` →
 * PLAN_CHANGE_STATE_MACHINE_ARN): the CDK construct sets it on the functions that start the workflow.
 */
export function stateMachineArnVariable(workflow: string): string {
  return `${workflow.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_STATE_MACHINE_ARN`;
}
