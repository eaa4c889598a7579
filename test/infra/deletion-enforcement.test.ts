/**
 * The deletion sweeper and the two deletion schedule targets as deployed: the hourly rule, each function's
 * grants (least privilege: what it uses and nothing more), the alarms on sweeper errors and on compliance
 * violations, and cdk-nag clean on all of it.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { DEADLINE_TARGET, ENFORCEMENT_TARGET, HARD_DELETE_WORKFLOW } from '../../functions/deletion/hard-delete-definition';
import { COMPLIANCE_VIOLATIONS_METRIC } from '../../functions/tenants/tenant-store';
import { stateMachineArnVariable } from '../../functions/workflows/registry';
import type { HandlerFunction } from '../../infra/constructs/handler-function';
import type { TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import type { WorkflowStateMachine } from '../../infra/constructs/workflow-state-machine';
import { actionsOf, cdkOutdir, logicalId, removeCdkOutdirs, resources, statementsOfRole, synthContext, validationFindings, variablesOf, type Statement } from '../support/cdk-template';

const app = buildApp({ outdir: cdkOutdir('deletion'), nag: true, context: synthContext() });
const stack = app.stack as TenantLifecycleStack;
const { findings, synthError } = validationFindings(app.app);
const template = Template.fromStack(stack);
const hardDelete = stack.workflows.get(HARD_DELETE_WORKFLOW.name) as WorkflowStateMachine;

afterAll(removeCdkOutdirs);

function statementsOf(fn: HandlerFunction): Statement[] {
  return statementsOfRole(template, logicalId(stack, fn.role));
}
const sorted = (values: string[]) => [...new Set(values)].sort();
const DYNAMODB_READ = ['dynamodb:GetItem', 'dynamodb:Query'];
const REARM = ['iam:PassRole', 'scheduler:CreateSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule'];
/** A schedule target's failed asynchronous invocations go to the scheduler's dead-letter queue (on-failure destination). */
const DEAD_LETTER = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
/** Lambda's own log and tracing actions every HandlerFunction has. */
const baseline = (actions: string[]) => actions.filter((action) => !action.startsWith('logs:') && !action.startsWith('xray:'));

test('the deletion sweeper runs hourly, and may read the table, re-arm schedules and start hard deletes, nothing more', () => {
  const sweeper = stack.deletionSweeper.sweeperFunction;
  const rule = resources(template)[logicalId(stack, stack.deletionSweeper.rule)];
  expect(rule?.Properties).toMatchObject({ ScheduleExpression: 'rate(1 hour)', State: 'ENABLED' });
  expect(JSON.stringify(rule?.Properties.Targets)).toContain(logicalId(stack, sweeper.function));

  const statements = statementsOf(sweeper);
  expect(sorted(baseline(actionsOf(statements)))).toEqual(sorted([...DYNAMODB_READ, ...REARM, 'states:StartExecution']));
  const start = statements.find((statement) => actionsOf([statement]).includes('states:StartExecution'));
  expect(start?.Resource).toEqual({ Ref: logicalId(stack, hardDelete.stateMachine) });
  const variables = variablesOf(template, logicalId(stack, sweeper.function));
  expect(Object.keys(variables)).toEqual(expect.arrayContaining([stateMachineArnVariable('hard-delete'), 'TABLE_NAME', 'SCHEDULER_GROUP_NAME', 'SCHEDULER_ROLE_ARN', 'SCHEDULE_TARGET_HARD_DELETE_DEADLINE_ARN', 'SCHEDULE_TARGET_HARD_DELETE_ENFORCEMENT_ARN']));
});

test('the deadline target may read the table and start the hard delete, and touches no schedule', () => {
  const fn = hardDelete.scheduleTargetFunction(DEADLINE_TARGET);
  expect(sorted(baseline(actionsOf(statementsOf(fn))))).toEqual(sorted([...DYNAMODB_READ, ...DEAD_LETTER, 'states:StartExecution']));
});

test('the enforcement target may read the table, start the hard delete and re-arm its schedule, but delete none', () => {
  const fn = hardDelete.scheduleTargetFunction(ENFORCEMENT_TARGET);
  expect(sorted(baseline(actionsOf(statementsOf(fn))))).toEqual(sorted([...DYNAMODB_READ, ...REARM, ...DEAD_LETTER, 'states:StartExecution']));
});

test('alarms: any sweeper error in the hour, and any compliance violation recorded', () => {
  const alarms = resources(template);
  const errors = alarms[logicalId(stack, stack.deletionSweeper.errorsAlarm)]?.Properties;
  expect(errors).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Statistic: 'Sum', Period: 3600, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
  expect(JSON.stringify(errors?.Dimensions)).toContain(logicalId(stack, stack.deletionSweeper.sweeperFunction.function));
  const violations = alarms[logicalId(stack, stack.deletionSweeper.violationsAlarm)]?.Properties;
  expect(violations).toMatchObject({
    MetricName: COMPLIANCE_VIOLATIONS_METRIC,
    Namespace: 'TenantLifecycle',
    Dimensions: [{ Name: 'service', Value: 'tenant-lifecycle' }],
    Statistic: 'Sum',
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
  });
});

test('cdk-nag AwsSolutionsChecks finds nothing in the deletion sweeper or the deletion targets', () => {
  const ours = [`/${stack.deletionSweeper.node.path}/`, `/${hardDelete.scheduleTargetFunction(DEADLINE_TARGET).node.path}/`, `/${hardDelete.scheduleTargetFunction(ENFORCEMENT_TARGET).node.path}/`];
  const mine = findings.filter((finding) => finding.constructs.some((path) => ours.some((prefix) => `/${path}/`.startsWith(prefix))));
  expect(mine).toEqual([]);
  expect(synthError === undefined || !ours.some((prefix) => synthError.includes(prefix.slice(1, -1)))).toBe(true);
});
