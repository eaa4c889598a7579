/**
 * The workflow registry: an unknown name is refused with the known names in the message, a run-time entry can be
 * added once and removed, and a built-in entry cannot be removed.
 */
import { EXPORT_WORKFLOW } from '../../../functions/export/export-definition';
import { REACTIVATION_WORKFLOW } from '../../../functions/reactivation/reactivation-definition';
import { HARD_DELETE_WORKFLOW } from '../../../functions/deletion/hard-delete-definition';
import { PLAN_CHANGE_WORKFLOW } from '../../../functions/plan-change/plan-change-definition';
import type { WorkflowDefinition } from '../../../functions/workflows/workflow-definition';
import { addWorkflowDefinition, removeWorkflowDefinition, UnknownWorkflowError, workflowDefinition, workflowDefinitions } from '../../../functions/workflows/registry';

const custom: WorkflowDefinition = { ...EXPORT_WORKFLOW, name: 'test-custom', title: 'Custom', scheduleTargets: [] };

afterEach(() => {
  if (workflowDefinitions().some((definition) => definition.name === custom.name)) removeWorkflowDefinition(custom.name);
});

it('should refuse an unknown workflow name, naming it and the known ones', () => {
  let thrown: unknown;
  try {
    workflowDefinition('no-such-workflow');
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(UnknownWorkflowError);
  expect(thrown).toMatchObject({ name: 'UnknownWorkflowError', workflow: 'no-such-workflow' });
  expect((thrown as Error).message).toBe(`No workflow 'no-such-workflow' in the registry (known: ${PLAN_CHANGE_WORKFLOW.name}, ${EXPORT_WORKFLOW.name}, ${HARD_DELETE_WORKFLOW.name}, ${REACTIVATION_WORKFLOW.name}).`);
});

it('should find an added entry after the built-in ones, refuse it a second time, and forget it once removed', () => {
  addWorkflowDefinition(custom);
  expect(workflowDefinition('test-custom')).toBe(custom);
  expect(workflowDefinitions().map((definition) => definition.name)).toEqual([PLAN_CHANGE_WORKFLOW.name, EXPORT_WORKFLOW.name, HARD_DELETE_WORKFLOW.name, REACTIVATION_WORKFLOW.name, 'test-custom']);

  expect(() => addWorkflowDefinition({ ...custom, title: 'Other' })).toThrow("Workflow 'test-custom' is already registered.");
  expect(workflowDefinition('test-custom').title).toBe('Custom');

  removeWorkflowDefinition('test-custom');
  expect(() => workflowDefinition('test-custom')).toThrow(UnknownWorkflowError);
  expect(workflowDefinitions()).toHaveLength(4);
});

it('should refuse to add or remove a built-in workflow and keep it registered', () => {
  expect(() => addWorkflowDefinition({ ...custom, name: PLAN_CHANGE_WORKFLOW.name })).toThrow(`Workflow '${PLAN_CHANGE_WORKFLOW.name}' is already registered.`);
  expect(() => removeWorkflowDefinition(EXPORT_WORKFLOW.name)).toThrow(`Workflow '${EXPORT_WORKFLOW.name}' is built in.`);
  expect(workflowDefinition(EXPORT_WORKFLOW.name)).toBe(EXPORT_WORKFLOW);
  expect(workflowDefinition(PLAN_CHANGE_WORKFLOW.name)).toBe(PLAN_CHANGE_WORKFLOW);
});
