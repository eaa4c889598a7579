/**
 * The Task Lambda of every workflow's state machine: runs the step the ASL names, with the deployed
 * dependencies. One function per workflow (its own role), told which workflow by WORKFLOW_NAME, which the CDK
 * construct sets from the registry entry.
 */
import { runTask, type WorkflowTaskEvent } from '../engine';
import { workflowDependencies } from '../workflow-deps';

export type { WorkflowTaskEvent };

export const handler = async (event: WorkflowTaskEvent): Promise<unknown> => {
  const workflow = process.env.WORKFLOW_NAME;
  if (!workflow) throw new Error('WORKFLOW_NAME is not set: the task function does not know which workflow it runs.');
  return runTask(workflowDependencies(), workflow, event);
};
