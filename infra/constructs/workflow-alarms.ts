/**
 * The two alarms every workflow gets, on the metrics of functions/workflows/workflow-metrics.ts:
 * - its rolled-back or failed runs above a share of its runs over one hour (the course's "failed lifecycle
 *   transitions > 1%"), once the hour had enough runs for a share to mean something;
 * - an operation of it still unfinished past the workflow's timeout (the sweeper measures the oldest).
 * Like the stack's other alarms they carry no action unless given one: wire your paging topic.
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { WORKFLOW_METRICS } from '../../functions/workflows/workflow-metrics';

export interface WorkflowAlarmsProps {
  /** The workflow's name: the `workflow` dimension of its metrics. */
  readonly workflow: string;
  /** The workflow's own time limit (its ASL TimeoutSeconds): an operation unfinished past it is stuck. */
  readonly timeout: Duration;
  /** The metrics' CloudWatch namespace (POWERTOOLS_METRICS_NAMESPACE of the functions that emit them). */
  readonly namespace: string;
  /** The Powertools service name of the functions that emit them: their `service` dimension. */
  readonly serviceName: string;
  /**
   * Alarm when more than this percentage of the hour's runs rolled back or failed.
   * @default 1
   */
  readonly failureSharePercent?: number;
  /**
   * Fewer runs than this in the hour never alarm on the share: with 2 runs one failure is 50 %, which says
   * nothing about a 1 % target. At 20, a single failure alarms (5 %) once there is a sample to speak of.
   * @default 20
   */
  readonly minimumRuns?: number;
  /**
   * How often the oldest unfinished operation is measured (the sweeper's schedule): the age alarm's period
   * is half as long again, so a late sweep leaves no window without a measurement.
   * @default Duration.minutes(10)
   */
  readonly measuredEvery?: Duration;
  /**
   * What each alarm does when it fires and when it recovers (an SNS topic action, say).
   * @default - none, as the stack's other alarms
   */
  readonly alarmActions?: readonly IAlarmAction[];
  /**
   * The workflow's operations have a legal due date (WorkflowDefinition.dueDate): alarm when one is unfinished
   * within 7 days of it or past it (UnfinishedNearDue, reported by the sweeper).
   * @default - no such alarm
   */
  readonly dueDate?: { readonly basis: string };
}

export class WorkflowAlarms extends Construct {
  /** The hour's failure share, in percent: 100 × Average(WorkflowFailed), or 0 below the minimum runs. */
  readonly failureShare: MathExpression;
  readonly failureShareAlarm: Alarm;
  /** Maximum of OldestUnfinishedOperationAge, in seconds. */
  readonly oldestUnfinished: Metric;
  readonly oldestUnfinishedAlarm: Alarm;
  /** Maximum of UnfinishedNearDue (a count), for a workflow with a due date. */
  readonly unfinishedNearDue?: Metric;
  readonly unfinishedNearDueAlarm?: Alarm;
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: WorkflowAlarmsProps) {
    super(scope, id);
    const dimensionsMap = { service: props.serviceName, workflow: props.workflow };
    const sharePercent = props.failureSharePercent ?? 1;
    const minimumRuns = props.minimumRuns ?? 20;
    const hour = Duration.hours(1);

    // WorkflowFailed is 1 per run that rolled back or failed and 0 per run that succeeded, so one metric gives
    // both the share (Average) and the number of runs (SampleCount), each present whenever anything ran.
    const failed = new Metric({ namespace: props.namespace, metricName: WORKFLOW_METRICS.failed, dimensionsMap, period: hour, statistic: 'Average' });
    this.failureShare = new MathExpression({
      expression: `IF(runs >= ${minimumRuns}, 100 * share, 0)`,
      usingMetrics: { share: failed, runs: failed.with({ statistic: 'SampleCount' }) },
      period: hour,
      label: `${props.workflow}: rolled back or failed, % of runs in the hour`,
    });
    this.failureShareAlarm = new Alarm(this, 'FailureShare', {
      alarmDescription:
        `More than ${sharePercent} % of the ${props.workflow} runs of the last hour rolled back or failed (at least ${minimumRuns} runs). ` +
        'Each one is in its operation (GET /operations/{id}: error) and the "Workflow ended" log entries.',
      metric: this.failureShare,
      threshold: sharePercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No run in the hour: nothing failed.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const measuredEvery = props.measuredEvery ?? Duration.minutes(10);
    this.oldestUnfinished = new Metric({
      namespace: props.namespace,
      metricName: WORKFLOW_METRICS.oldestUnfinishedAge,
      dimensionsMap,
      period: Duration.seconds(Math.ceil((measuredEvery.toSeconds() * 1.5) / 60) * 60),
      statistic: 'Maximum',
    });
    this.oldestUnfinishedAlarm = new Alarm(this, 'OldestUnfinished', {
      alarmDescription:
        `A ${props.workflow} operation is still unfinished more than ${props.timeout.toSeconds()} s (the workflow's timeout) after it started: ` +
        'its tenant may be stuck mid-change. The sweeper compensates it; check that it did (the operation ends rolled_back or cancelled).',
      metric: this.oldestUnfinished,
      threshold: props.timeout.toSeconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // The sweeper reports 0 when nothing is unfinished; a window without a sweep is not evidence of a stuck one
      // (a sweeper that fails has its own error alarm).
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    if (props.dueDate) {
      this.unfinishedNearDue = new Metric({
        namespace: props.namespace,
        metricName: WORKFLOW_METRICS.unfinishedNearDue,
        dimensionsMap,
        period: this.oldestUnfinished.period,
        statistic: 'Maximum',
      });
      this.unfinishedNearDueAlarm = new Alarm(this, 'UnfinishedNearDue', {
        alarmDescription:
          `A ${props.workflow} operation is unfinished within 7 days of its due date or past it (${props.dueDate.basis}). ` +
          'GET /exports/{id} shows overdueRisk; find why it has not finished (its operation, the "Workflow ended" log entries).',
        metric: this.unfinishedNearDue,
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
    this.alarms = [this.failureShareAlarm, this.oldestUnfinishedAlarm, ...(this.unfinishedNearDueAlarm ? [this.unfinishedNearDueAlarm] : [])];
    for (const alarm of this.alarms) {
      for (const action of props.alarmActions ?? []) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
