/**
 * The daily billing reconciliation on AWS (functions/dunning/reconcile.ts): a Lambda run once a day by an
 * EventBridge rule that reads each linked subscription's status and applies the dunning ladder, catching Stripe
 * events never delivered. It writes the lifecycle table (the ladder's transitions), makes and deletes the ladder's
 * timers (the scheduler's group), and calls billing (the stack shares the Stripe key with it when configured);
 * nothing more. Alarmed: a run that could not reconcile a tenant fails.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HandlerFunction } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import type { OneShotScheduler } from './one-shot-scheduler';
import { breachOnAny, type WorkflowFunctionProps } from './workflow-state-machine';

export const BILLING_RECONCILER_ENTRY = 'functions/dunning/handlers/reconcile-sweep.ts';

/** What every function of the stack is built with (the table, log retention, removal policy, service name, Stripe
 * prices), and the scheduler its functions arm and cancel one-shot schedules on. */
export interface BillingReconcilerProps extends WorkflowFunctionProps {
  readonly scheduler: OneShotScheduler;
}

export class BillingReconciler extends Construct {
  readonly reconcileFunction: HandlerFunction;
  readonly rule: Rule;
  /** Breaches when a run could not reconcile a tenant (or failed as a whole). */
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: BillingReconcilerProps) {
    super(scope, id);
    this.reconcileFunction = new HandlerFunction(this, 'Function', {
      entry: BILLING_RECONCILER_ENTRY,
      description: "Tenant lifecycle billing reconciliation: apply each linked subscription's status (the dunning ladder)",
      // One Stripe read per billed tenant (about 10 a second with Stripe's rate limits): 10,000 tenants well within 15 minutes.
      timeout: Duration.minutes(15),
      serviceName: props.serviceName ?? 'tenant-lifecycle',
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      environment: { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName },
    });
    props.table.grantWriteTenants(this.reconcileFunction);
    props.scheduler.grantSchedule(this.reconcileFunction);
    this.rule = new Rule(this, 'Rule', {
      description: "Daily: reconcile every linked subscription's status with its tenant (catches Stripe events never delivered).",
      schedule: Schedule.rate(Duration.days(1)),
    });
    this.rule.addTarget(new LambdaFunction(this.reconcileFunction.function, { retryAttempts: 2 }));
    this.alarm = breachOnAny(
      this,
      'Errors',
      'The billing reconciliation could not reconcile a tenant with its subscription: a suspension or resumption may be missing (see the function log).',
      this.reconcileFunction.function.metricErrors({ period: Duration.days(1), statistic: 'Sum' }),
    );
  }
}
