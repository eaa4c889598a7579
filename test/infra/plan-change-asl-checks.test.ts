/**
 * The stack's checks of the plan-change ASL file (statemachines/plan-change.asl.json) at synth time: an edit
 * that would deploy a state machine without an execution timeout (a stuck execution would hold its tenant for a
 * year) or with a placeholder the stack does not fill (a Task with no function) must stop `cdk synth`, saying
 * what is wrong. The file is read through node:fs, so the test hands the construct an edited copy.
 */
import { readFileSync } from 'node:fs';
import { buildApp } from '../../infra/app';
import { PLAN_CHANGE_WORKFLOW } from '../../functions/plan-change/plan-change-definition';
import { PLAN_CHANGE_ASL_PATH } from '../../infra/constructs/plan-change-workflow';
import { cdkOutdir, removeCdkOutdirs, synthContext } from '../support/cdk-template';

// The edited ASL lives in the mocked module itself: the factory runs before this file's own constants exist.
jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  const editedAsl: { text?: string } = {};
  return {
    ...actual,
    editedAsl,
    readFileSync: (file: unknown, ...rest: unknown[]) =>
      editedAsl.text !== undefined && String(file).endsWith('plan-change.asl.json') ? editedAsl.text : (actual.readFileSync as (...args: unknown[]) => unknown)(file, ...rest),
  };
});
const editedAsl = jest.requireMock<{ editedAsl: { text?: string } }>('node:fs').editedAsl;

const original = JSON.parse(readFileSync(PLAN_CHANGE_ASL_PATH, 'utf8')) as Record<string, unknown>;
const build = () => buildApp({ outdir: cdkOutdir('asl'), nag: false, context: synthContext() });

afterEach(() => {
  delete editedAsl.text;
});
afterAll(removeCdkOutdirs);

describe('PlanChangeWorkflow: checks of the ASL file', () => {
  it('should build with the ASL file as committed', () => {
    expect(() => build()).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['zero', 0],
    ['fractional', 900.5],
    ['a string', '900'],
  ])('should refuse a top-level TimeoutSeconds that is %s', (_case, timeoutSeconds) => {
    const { TimeoutSeconds: _dropped, ...rest } = original;
    editedAsl.text = JSON.stringify(timeoutSeconds === undefined ? rest : { ...rest, TimeoutSeconds: timeoutSeconds });
    expect(() => build()).toThrow(`${PLAN_CHANGE_ASL_PATH} must set a top-level TimeoutSeconds: without one a stuck execution holds the tenant for a year.`);
  });

  it('should refuse a placeholder the stack does not fill, naming it', () => {
    editedAsl.text = JSON.stringify(original).replace('${PlanChangeTaskFunctionArn}', '${ExportTaskFunctionArn}');
    expect(editedAsl.text).toContain('${ExportTaskFunctionArn}');
    expect(() => build()).toThrow(`${PLAN_CHANGE_ASL_PATH} has placeholders the stack does not fill: ExportTaskFunctionArn.`);
  });

  it("should refuse a Task TimeoutSeconds that does not stay below the Task function's own timeout, naming the state", () => {
    // Lambda would cut the invocation first: Step Functions sees Lambda.Unknown instead of the States.Timeout it retries.
    const edited = structuredClone(original) as { States: Record<string, { Type: string; TimeoutSeconds?: number }> };
    const [name, task] = Object.entries(edited.States).find(([, state]) => state.Type === 'Task' && state.TimeoutSeconds !== undefined)!;
    task.TimeoutSeconds = PLAN_CHANGE_WORKFLOW.taskTimeoutSeconds;
    editedAsl.text = JSON.stringify(edited);
    expect(() => build()).toThrow(
      `${PLAN_CHANGE_ASL_PATH}: Task state '${name}' has TimeoutSeconds ${PLAN_CHANGE_WORKFLOW.taskTimeoutSeconds}, not below the Task function's timeout of ${PLAN_CHANGE_WORKFLOW.taskTimeoutSeconds} s (taskTimeoutSeconds of workflow 'plan-change').`,
    );
  });
});
