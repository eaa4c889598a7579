/**
 * The workflow alarms as CloudFormation gets them: the failure share's metric math, thresholds and periods,
 * on the metrics and dimensions the functions emit (workflow-metrics.ts; the EMF output is asserted in
 * test/integration/lifecycle-metrics.test.ts), for plan change in the deployed stack and for any workflow.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { buildApp } from '../../infra/app';
import { WorkflowAlarms } from '../../infra/constructs/workflow-alarms';
import type { TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { cdkOutdir, logicalId, REPO_ROOT, removeCdkOutdirs, resources, synthContext } from '../support/cdk-template';

interface AlarmProperties {
  readonly Threshold: number;
  readonly ComparisonOperator: string;
  readonly EvaluationPeriods: number;
  readonly TreatMissingData: string;
  readonly Namespace?: string;
  readonly MetricName?: string;
  readonly Statistic?: string;
  readonly Period?: number;
  readonly Dimensions?: Array<{ Name: string; Value: unknown }>;
  readonly AlarmActions?: unknown[];
  readonly OKActions?: unknown[];
  readonly Metrics?: Array<{
    Id: string;
    Expression?: string;
    ReturnData?: boolean;
    MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: unknown }> }; Period: number; Stat: string };
  }>;
}

/** The plan-change ASL's own timeout, read independently of the construct. */
const PLAN_CHANGE_TIMEOUT_SECONDS = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'statemachines', 'plan-change.asl.json'), 'utf8')) as { TimeoutSeconds: number }).TimeoutSeconds;

function alarmProperties(template: Template, stack: Stack, alarm: WorkflowAlarms['failureShareAlarm']): AlarmProperties {
  return resources(template)[logicalId(stack, alarm)]?.Properties as unknown as AlarmProperties;
}

afterAll(removeCdkOutdirs);

describe('Class: WorkflowAlarms, for plan change in the stack', () => {
  let stack: TenantLifecycleStack;
  let template: Template;
  beforeAll(() => {
    ({ stack } = buildApp({ outdir: cdkOutdir('workflow-alarms'), nag: false, context: synthContext() }));
    template = Template.fromStack(stack);
  });

  it('should alarm when more than 1 % of the hour\'s plan-change runs rolled back or failed, counting only hours of 20 runs or more', () => {
    // Act
    const alarm = alarmProperties(template, stack, stack.planChange.workflowAlarms.failureShareAlarm);

    // Assess
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    const dimensions = [
      { Name: 'service', Value: 'tenant-lifecycle' },
      { Name: 'workflow', Value: 'plan-change' },
    ];
    const failed = { Namespace: 'TenantLifecycle', MetricName: 'WorkflowFailed', Dimensions: dimensions };
    expect(alarm.Metrics).toEqual([
      { Id: 'expr_1', Expression: 'IF(runs >= 20, 100 * share, 0)', Label: expect.any(String), ReturnData: true },
      { Id: 'share', MetricStat: { Metric: failed, Period: 3600, Stat: 'Average' }, ReturnData: false },
      { Id: 'runs', MetricStat: { Metric: failed, Period: 3600, Stat: 'SampleCount' }, ReturnData: false },
    ]);
  });

  it("should alarm when the oldest unfinished plan-change operation is older than the workflow's timeout", () => {
    // Act
    const alarm = alarmProperties(template, stack, stack.planChange.workflowAlarms.oldestUnfinishedAlarm);

    // Assess: measured by the sweeper every 10 minutes, so each 15-minute window holds a measurement.
    expect(PLAN_CHANGE_TIMEOUT_SECONDS).toBe(900);
    expect(alarm).toMatchObject({
      Namespace: 'TenantLifecycle',
      MetricName: 'OldestUnfinishedOperationAge',
      Dimensions: [
        { Name: 'service', Value: 'tenant-lifecycle' },
        { Name: 'workflow', Value: 'plan-change' },
      ],
      Statistic: 'Maximum',
      Period: 900,
      Threshold: PLAN_CHANGE_TIMEOUT_SECONDS,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('should alarm when an export is unfinished within 7 days of its GDPR due date, and give plan change (no due date) no such alarm', () => {
    // Prepare
    const exportAlarms = (stack as TenantLifecycleStack).workflows.get('export')!.workflowAlarms;

    // Act
    const alarm = alarmProperties(template, stack, exportAlarms.unfinishedNearDueAlarm!);

    // Assess: the sweeper's count of unfinished exports near or past their due date, any one alarms
    expect(alarm).toMatchObject({
      Namespace: 'TenantLifecycle',
      MetricName: 'UnfinishedNearDue',
      Dimensions: [
        { Name: 'service', Value: 'tenant-lifecycle' },
        { Name: 'workflow', Value: 'export' },
      ],
      Statistic: 'Maximum',
      Period: 900,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(exportAlarms.alarms).toContain(exportAlarms.unfinishedNearDueAlarm);
    expect(stack.planChange.workflowAlarms.unfinishedNearDueAlarm).toBeUndefined();
  });

  it('should read the metrics under the namespace and service name the functions emit them with', () => {
    // Act
    const environment = (resources(template)[logicalId(stack, stack.planChange.sweeperFunction.function)]?.Properties as { Environment: { Variables: Record<string, string> } }).Environment.Variables;

    // Assess
    expect(environment).toMatchObject({ POWERTOOLS_METRICS_NAMESPACE: 'TenantLifecycle', POWERTOOLS_SERVICE_NAME: 'tenant-lifecycle' });
  });
});

describe('Class: WorkflowAlarms, for any workflow', () => {
  it('should take its timeout, namespace, service, share, minimum runs and actions from its props', () => {
    // Arrange
    const stack = new Stack(new App({ outdir: cdkOutdir('workflow-alarms-any') }), 'Alarms');
    const topic = new Topic(stack, 'Pager');

    // Act
    const alarms = new WorkflowAlarms(stack, 'Export', {
      workflow: 'export',
      timeout: Duration.hours(2),
      namespace: 'Custom',
      serviceName: 'svc',
      failureSharePercent: 5,
      minimumRuns: 50,
      measuredEvery: Duration.minutes(5),
      alarmActions: [new SnsAction(topic)],
    });
    const template = Template.fromStack(stack);
    const share = alarmProperties(template, stack, alarms.failureShareAlarm);
    const age = alarmProperties(template, stack, alarms.oldestUnfinishedAlarm);

    // Assess
    const pager = [{ Ref: logicalId(stack, topic) }];
    expect(share).toMatchObject({ Threshold: 5, AlarmActions: pager, OKActions: pager });
    expect(share.Metrics?.[0]?.Expression).toBe('IF(runs >= 50, 100 * share, 0)');
    expect(share.Metrics?.[1]?.MetricStat?.Metric).toEqual({ Namespace: 'Custom', MetricName: 'WorkflowFailed', Dimensions: [{ Name: 'service', Value: 'svc' }, { Name: 'workflow', Value: 'export' }] });
    expect(age).toMatchObject({ Namespace: 'Custom', Threshold: 7200, Period: 480, AlarmActions: pager, OKActions: pager });
  });
});
