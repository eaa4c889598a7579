/**
 * The plan-change workflow on AWS: the Standard state machine of `statemachines/plan-change.asl.json`, its
 * Task Lambda, and the EventBridge rule that compensates executions that end without reaching their Catch
 * (TIMED_OUT, ABORTED, FAILED), with a dead-letter queue for compensations that could not run.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StripePriceIds } from '../../functions/plans/plan-catalog';
import { HandlerFunction, METRICS_NAMESPACE, REPO_ROOT } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import type { LifecycleTable } from './lifecycle-table';
import type { OneShotScheduler } from './one-shot-scheduler';
import { WorkflowAlarms } from './workflow-alarms';

/** The workflow definition, read from the repository (never the working directory). */
export const PLAN_CHANGE_ASL_PATH = path.join(REPO_ROOT, 'statemachines', 'plan-change.asl.json');
/** The Task Lambda's handler module, relative to the repository root. */
export const PLAN_CHANGE_TASK_ENTRY = 'functions/plan-change/handlers/plan-change-task.ts';
/** The compensation Lambda for timed-out and aborted executions, relative to the repository root. */
export const PLAN_CHANGE_TIMEOUT_ENTRY = 'functions/plan-change/handlers/plan-change-timeout.ts';
export const PLAN_CHANGE_SWEEPER_ENTRY = 'functions/plan-change/handlers/sweep-stuck-operations.ts';
/** The target of period-end downgrades' one-shot schedules, relative to the repository root. */
export const PLAN_CHANGE_PERIOD_END_ENTRY = 'functions/plan-change/handlers/period-end.ts';
/** Execution statuses that skip the ASL's Catch, so the rule must compensate them (plan-change-timeout.ts). */
/**
 * Statuses sent to the compensation: TIMED_OUT and ABORTED never reach the ASL's Catch; FAILED has normally
 * compensated already (a no-op then), but gets a second chance if the compensation itself failed.
 */
export const UNCAUGHT_EXECUTION_STATUSES = ['TIMED_OUT', 'ABORTED', 'FAILED'] as const;

/** How often the sweeper runs (and measures the oldest unfinished operation). */
const SWEEP_EVERY = Duration.minutes(10);

/** Every `${Name}` placeholder of an ASL text, each name once. */
export function aslPlaceholders(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] as string))];
}

export interface PlanChangeWorkflowProps {
  /** The table the steps read and write: tenant, operation, ledger, provisioned-resource and lease items. */
  readonly table: LifecycleTable;
  /** Where period-end downgrades' one-shot schedules go; this construct adds their target. */
  readonly scheduler: OneShotScheduler;
  /**
   * Retention of the functions' logs and the state machine's execution logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log groups and the dead-letter queue when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Powertools service name of both functions.
   * @default 'tenant-lifecycle'
   */
  readonly serviceName?: string;
  /**
   * Stripe price ids per plan, given to both functions as STRIPE_PRICE_<PLAN> (the plan catalog reads them).
   * @default - none; plans carry no Stripe price
   */
  readonly stripePriceIds?: StripePriceIds;
}

export class PlanChangeWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  /** Runs every Task state of the ASL (the `step` in its input says which). */
  readonly taskFunction: HandlerFunction;
  /** Compensates executions that timed out or were aborted. */
  readonly timeoutFunction: HandlerFunction;
  /** Matches this state machine's TIMED_OUT, ABORTED and FAILED executions and targets `timeoutFunction`. */
  readonly timeoutRule: Rule;
  /** Compensates operations still unfinished long after the workflow's timeout (a crash before the start, say). */
  readonly sweeperFunction: HandlerFunction;
  readonly sweeperRule: Rule;
  /** Starts a period-end downgrade when its one-shot schedule fires. */
  readonly periodEndFunction: HandlerFunction;
  /** Alarms that mean a tenant may be stuck mid-change (no action attached: wire your paging topic). */
  readonly alarms: readonly Alarm[];
  /** The alarms every workflow has (workflow-alarms.ts): failure share over the hour, operations past the timeout. */
  readonly workflowAlarms: WorkflowAlarms;
  /** Compensations that could not be delivered or failed after their retries: each one is a tenant to repair. */
  readonly deadLetterQueue: Queue;
  readonly executionLogs: LogGroup;
  /** The whole execution's limit, from the ASL's top-level TimeoutSeconds (the ASL, not CDK, enforces it). */
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: PlanChangeWorkflowProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serviceName = props.serviceName ?? 'tenant-lifecycle';
    const environment = { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName };

    // Stripe is left out on purpose: without STRIPE_SECRET_KEY the billing port records charges in the
    // table's ledger. A Stripe key will come as a Secrets Manager secret ARN, never as a plain variable.
    this.taskFunction = new HandlerFunction(this, 'TaskFunction', {
      entry: PLAN_CHANGE_TASK_ENTRY,
      description: 'Tenant lifecycle plan change: one step of the workflow',
      // The longest Task TimeoutSeconds in the ASL is 300 s (ProvisionResources); leave room above it.
      timeout: Duration.seconds(330),
      serviceName,
      logRetention,
      removalPolicy,
      environment,
    });
    props.table.grantWriteTenants(this.taskFunction);

    const asl = readFileSync(PLAN_CHANGE_ASL_PATH, 'utf8');
    this.timeout = Duration.seconds(topLevelTimeoutSeconds(asl));
    const definitionSubstitutions: Record<string, string> = { PlanChangeTaskFunctionArn: this.taskFunction.function.functionArn };
    const unfilled = aslPlaceholders(asl).filter((name) => !(name in definitionSubstitutions));
    if (unfilled.length > 0) throw new Error(`${PLAN_CHANGE_ASL_PATH} has placeholders the stack does not fill: ${unfilled.join(', ')}.`);

    this.executionLogs = new LogGroup(this, 'ExecutionLogs', { retention: logRetention, removalPolicy });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      comment: 'Tenant plan change: read-only window, drain, provision, bill, commit; compensates on failure.',
      // fromString, not fromFile: the definition stays in the template, where assertions and reviewers see it.
      definitionBody: DefinitionBody.fromString(asl),
      definitionSubstitutions,
      // Execution data holds tenant ids, plans and failure causes: events are logged, their payloads are not.
      logs: { destination: this.executionLogs, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    // The ASL names the function's unqualified ARN, so that ARN is all the role may invoke (no `:*` versions).
    Grant.addToPrincipal({ grantee: this.stateMachine, actions: ['lambda:InvokeFunction'], resourceArns: [this.taskFunction.function.functionArn] });
    // On the role's one policy, not the role: a wildcard in any other policy attached to it still fails.
    Validations.of(this.stateMachine.role.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by the StateMachine L2 for logging and tracing, which take no resource-level permissions: the ' +
        'CloudWatch Logs vended-delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, ' +
        'DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) ' +
        'and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets). The ' +
        "role's only other permission, lambda:InvokeFunction, names the task function's ARN.",
    });

    this.deadLetterQueue = new Queue(this, 'CompensationDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: of the EventBridge target (events it could not deliver) and ' +
        "the on-failure destination of the timeout function's asynchronous invocations (compensations that " +
        'failed after their retries). cdk-nag recognises only RedrivePolicy and Lambda DeadLetterConfig as ' +
        'dead-letter use; a dead-letter queue of a dead-letter queue would only hide the messages further.',
    });

    this.timeoutFunction = new HandlerFunction(this, 'TimeoutFunction', {
      entry: PLAN_CHANGE_TIMEOUT_ENTRY,
      description: 'Tenant lifecycle plan change: compensate a timed-out, aborted or failed execution',
      timeout: Duration.seconds(150),
      serviceName,
      logRetention,
      removalPolicy,
      environment,
    });
    props.table.grantWriteTenants(this.timeoutFunction);
    // EventBridge invokes Lambda asynchronously: its own retries and DLQ cover delivery only; a compensation
    // that throws is retried by Lambda and then recorded in the same queue.
    this.timeoutFunction.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });

    this.timeoutRule = new Rule(this, 'UncaughtExecutionRule', {
      description: 'Plan-change executions that timed out or were aborted: compensate them.',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...UNCAUGHT_EXECUTION_STATUSES], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
    });
    this.timeoutRule.addTarget(
      new LambdaFunction(this.timeoutFunction.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(6),
      }),
    );

    // Last line of defence: operations still unfinished 30 minutes after they started are compensated.
    this.sweeperFunction = new HandlerFunction(this, 'SweeperFunction', {
      entry: PLAN_CHANGE_SWEEPER_ENTRY,
      description: 'Tenant lifecycle plan change: compensate operations stuck past the workflow timeout',
      timeout: Duration.seconds(300),
      serviceName,
      logRetention,
      removalPolicy,
      environment,
    });
    props.table.grantWriteTenants(this.sweeperFunction);
    this.sweeperRule = new Rule(this, 'StuckOperationSweep', {
      description: 'Every 10 minutes: compensate plan-change operations stuck past the workflow timeout.',
      schedule: Schedule.rate(SWEEP_EVERY),
    });
    this.sweeperRule.addTarget(new LambdaFunction(this.sweeperFunction.function, { retryAttempts: 2 }));

    // Period-end downgrades: the one-shot schedule's target starts the workflow (or cancels the change).
    const periodEndName = `${Stack.of(this).stackName.slice(0, 40)}-PlanChangePeriodEnd`;
    this.periodEndFunction = new HandlerFunction(this, 'PeriodEndFunction', {
      entry: PLAN_CHANGE_PERIOD_END_ENTRY,
      description: 'Tenant lifecycle plan change: start a downgrade scheduled for the end of the billing period',
      timeout: Duration.seconds(60),
      functionName: periodEndName,
      serviceName,
      logRetention,
      removalPolicy,
      environment,
    });
    props.table.grantWriteTenants(this.periodEndFunction);
    props.scheduler.addTarget('plan-change.period-end', this.periodEndFunction, periodEndName);
    // Scheduler invokes its Lambda targets asynchronously: failed starts are retried, then dead-lettered.
    this.periodEndFunction.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(props.scheduler.deadLetterQueue) });
    for (const starter of [this.periodEndFunction, this.sweeperFunction]) {
      starter.function.addEnvironment('PLAN_CHANGE_STATE_MACHINE_ARN', this.stateMachine.stateMachineArn);
      this.grantStartExecution(starter);
      props.scheduler.grantSchedule(starter);
    }
    // Compensations cancel the schedule of a change they undo before it started.
    for (const compensator of [this.taskFunction, this.timeoutFunction]) props.scheduler.grantCancel(compensator);

    // Each alarm means a tenant may be left mid-change and needs an operator; add an action to page someone.
    this.alarms = [
      new Alarm(this, 'CompensationDeadLetters', {
        alarmDescription: 'A plan-change compensation could not run after its retries: a tenant may be stuck mid-change.',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'PeriodEndErrors', {
        alarmDescription: 'A period-end downgrade could not be started or cancelled (it is retried, then dead-lettered; the sweeper tries again).',
        metric: this.periodEndFunction.function.metricErrors({ period: Duration.minutes(10), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'SweeperErrors', {
        alarmDescription: 'The stuck-operation sweeper could not compensate an operation.',
        metric: this.sweeperFunction.function.metricErrors({ period: Duration.minutes(10), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    this.workflowAlarms = new WorkflowAlarms(this, 'WorkflowAlarms', { workflow: 'plan-change', timeout: this.timeout, namespace: METRICS_NAMESPACE, serviceName, measuredEvery: SWEEP_EVERY });
  }

  /** Let `grantee` start executions of this state machine, and nothing else on it. */
  grantStartExecution(grantee: IGrantable): Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }
}

/** The ASL's top-level TimeoutSeconds; required, since TIMED_OUT is what the compensation rule relies on. */
function topLevelTimeoutSeconds(asl: string): number {
  const timeoutSeconds = (JSON.parse(asl) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new Error(`${PLAN_CHANGE_ASL_PATH} must set a top-level TimeoutSeconds: without one a stuck execution holds the tenant for a year.`);
  }
  return timeoutSeconds;
}
