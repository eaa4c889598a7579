/**
 * SKELETON (issue 9): the hard-delete workflow's steps, replaced by the real workflow before the issue lands.
 */
import type { WorkflowPorts } from '../workflows/ports';
import type { WorkflowInput, WorkflowSteps } from '../workflows/workflow-definition';

export const hardDeleteSteps: WorkflowSteps<WorkflowPorts, WorkflowInput> = {
  steps: ['begin'],
  endingSteps: ['begin'],
  async run() {
    throw new Error('The hard-delete workflow is not implemented yet.');
  },
  async compensate() {
    throw new Error('The hard-delete workflow is not implemented yet.');
  },
};
