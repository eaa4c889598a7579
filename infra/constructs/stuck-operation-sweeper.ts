/**
 * The stuck-operation sweeper of every workflow (functions/workflows/sweep-stuck-operations.ts): every 10
 * minutes it compensates operations still unfinished past their workflow's limit, each with its own workflow's
 * compensation, and starts scheduled operations whose schedule was lost. Each WorkflowStateMachine grants it
 * what that workflow needs (starting executions, schedules).
 */
import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import { breachOnAny, SWEEP_EVERY, type WorkflowFunctionProps } from './workflow-state-machine';

export const SWEEPER_ENTRY = 'functions/workflows/handlers/sweep-stuck-operations.ts';

export class StuckOperationSweeper extends Construct {
  readonly sweeperFunction: HandlerFunction;
  readonly sweeperRule: Rule;
  /** Breaches when a sweep could not compensate or start an operation. */
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: WorkflowFunctionProps) {
    super(scope, id);
    this.sweeperFunction = new HandlerFunction(this, 'SweeperFunction', {
      entry: SWEEPER_ENTRY,
      description: "Tenant lifecycle workflows: compensate operations stuck past their workflow's timeout",
      timeout: Duration.seconds(300),
      serviceName: props.serviceName ?? 'tenant-lifecycle',
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      environment: { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName },
    });
    props.table.grantWriteTenants(this.sweeperFunction);
    this.sweeperRule = new Rule(this, 'StuckOperationSweep', {
      description: "Every 10 minutes: compensate workflow operations stuck past their workflow's timeout.",
      schedule: Schedule.rate(SWEEP_EVERY),
    });
    this.sweeperRule.addTarget(new LambdaFunction(this.sweeperFunction.function, { retryAttempts: 2 }));
    this.alarm = breachOnAny(
      this,
      'SweeperErrors',
      'The stuck-operation sweeper could not compensate an operation.',
      this.sweeperFunction.function.metricErrors({ period: Duration.minutes(10), statistic: 'Sum' }),
    );
  }
}
