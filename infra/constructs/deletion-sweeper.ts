/**
 * The deletion sweeper on AWS (functions/deletion/sweep-deletions.ts): a Lambda run hourly by an EventBridge
 * rule that hard-deletes tenants still `deleting` past their enforcement window and recreates lost deletion
 * schedules, with what it needs and nothing more (read the lifecycle table; get, create and update schedules
 * of the control plane's group; start the hard-delete state machine), and two alarms: the sweeper failed, and
 * a compliance violation was recorded (the ComplianceViolations metric, from wherever it is recorded).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Metric, type Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DELETION_SWEEP_EVERY_SECONDS } from '../../functions/deletion/sweep-deletions';
import { COMPLIANCE_VIOLATIONS_METRIC } from '../../functions/tenants/tenant-store';
import { HandlerFunction, METRICS_NAMESPACE } from './handler-function';
import type { LifecycleTable } from './lifecycle-table';
import type { OneShotScheduler } from './one-shot-scheduler';
import { breachOnAny } from './workflow-state-machine';

export const DELETION_SWEEPER_ENTRY = 'functions/deletion/handlers/sweep-deletions.ts';

export interface DeletionSweeperProps {
  readonly table: LifecycleTable;
  readonly scheduler: OneShotScheduler;
  /** The hard-delete workflow: the sweeper may start its executions (and nothing else on it). */
  readonly hardDelete: { grantStartExecution(grantee: IGrantable & { readonly function?: { addEnvironment(name: string, value: string): unknown } }): Grant };
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Powertools service name: the `service` dimension of the metrics alarmed on. @default 'tenant-lifecycle' */
  readonly serviceName?: string;
}

export class DeletionSweeper extends Construct {
  readonly sweeperFunction: HandlerFunction;
  readonly rule: Rule;
  /** Breaches when a pass could not handle a tenant (or failed as a whole). */
  readonly errorsAlarm: Alarm;
  /** Breaches when any compliance violation was recorded in the hour (a missed deletion deadline). */
  readonly violationsAlarm: Alarm;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: DeletionSweeperProps) {
    super(scope, id);
    const serviceName = props.serviceName ?? 'tenant-lifecycle';
    const every = Duration.seconds(DELETION_SWEEP_EVERY_SECONDS);
    this.sweeperFunction = new HandlerFunction(this, 'Function', {
      entry: DELETION_SWEEPER_ENTRY,
      description: 'Tenant lifecycle deletion sweeper: hard-delete tenants past their window, recreate lost deletion schedules',
      // 10,000 tenants: about 420 schedule checks and 100 table pages a pass; ample room for throttling retries.
      timeout: Duration.minutes(10),
      serviceName,
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      environment: { TABLE_NAME: props.table.table.tableName },
    });
    props.table.grantReadTenants(this.sweeperFunction);
    props.scheduler.grantRearm(this.sweeperFunction);
    props.hardDelete.grantStartExecution(this.sweeperFunction);

    this.rule = new Rule(this, 'Rule', {
      description: 'Hourly: hard-delete tenants still deleting past their enforcement window; recreate lost deletion schedules.',
      schedule: Schedule.rate(every),
    });
    this.rule.addTarget(new LambdaFunction(this.sweeperFunction.function, { retryAttempts: 2 }));

    this.errorsAlarm = breachOnAny(
      this,
      'Errors',
      'The deletion sweeper could not handle a soft-deleted tenant (a hard delete not started, a lost schedule not recreated): a deletion deadline may be missed.',
      this.sweeperFunction.function.metricErrors({ period: every, statistic: 'Sum' }),
    );
    this.violationsAlarm = breachOnAny(
      this,
      'ComplianceViolations',
      'A compliance violation was recorded: a tenant was hard-deleted after its enforcement window closed (GET /compliance/violations lists them).',
      new Metric({ namespace: METRICS_NAMESPACE, metricName: COMPLIANCE_VIOLATIONS_METRIC, dimensionsMap: { service: serviceName }, statistic: 'Sum', period: every }),
    );
    this.alarms = [this.errorsAlarm, this.violationsAlarm];
  }
}
