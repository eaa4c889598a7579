/**
 * One workflow of the registry (functions/workflows/registry.ts) on AWS: the Standard state machine of its ASL
 * file, its Task Lambda, the EventBridge rule that compensates executions that end without reaching their
 * Catch (TIMED_OUT, ABORTED, FAILED) through the "execution ended badly" Lambda, a dead-letter queue for
 * compensations that could not run, and a Lambda per schedule target. The same construct for every workflow:
 * nothing here names one.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { UNCAUGHT_EXECUTION_STATUSES } from '../../functions/workflows/engine';
import type { StripePriceIds } from '../../functions/plans/plan-catalog';
import { stateMachineArnVariable } from '../../functions/workflows/registry';
import type { WorkflowDefinition, WorkflowReach } from '../../functions/workflows/workflow-definition';
import { checkTaskTimeouts, readWorkflowAsl } from '../workflow-asl';
import { deadLetterQueue } from './dead-letter-queue';
import { HandlerFunction, METRICS_NAMESPACE } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import type { LifecycleTable } from './lifecycle-table';
import type { OneShotScheduler } from './one-shot-scheduler';
import { WorkflowAlarms } from './workflow-alarms';

/** How often the stuck-operation sweeper runs (and measures each workflow's oldest unfinished operation). */
export const SWEEP_EVERY = Duration.minutes(10);

/** The Task Lambda's handler module of every workflow, relative to the repository root. */
export const WORKFLOW_TASK_ENTRY = 'functions/workflows/handlers/workflow-task.ts';
/** The "execution ended badly" Lambda's handler module of every workflow, relative to the repository root. */
export const EXECUTION_ENDED_ENTRY = 'functions/workflows/handlers/execution-ended.ts';

export { UNCAUGHT_EXECUTION_STATUSES };

/** `plan-change` → `PlanChange`, `plan-change.period-end` → `PlanChangePeriodEnd`: construct ids and names. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** An alarm that breaches on any datapoint above 0 (a dead letter, an error). */
export function breachOnAny(scope: Construct, id: string, alarmDescription: string, metric: IMetric): Alarm {
  return new Alarm(scope, id, { alarmDescription, metric, threshold: 0, comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD, evaluationPeriods: 1, treatMissingData: TreatMissingData.NOT_BREACHING });
}

/** What every function of the workflows shares. */
export interface WorkflowFunctionProps {
  /** The table the steps read and write: tenant, operation, ledger, provisioned-resource and lease items. */
  readonly table: LifecycleTable;
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
   * Powertools service name of the functions.
   * @default 'tenant-lifecycle'
   */
  readonly serviceName?: string;
  /**
   * Stripe price ids per plan, given to the functions as STRIPE_PRICE_<PLAN> (the plan catalog reads them).
   * @default - none; plans carry no Stripe price
   */
  readonly stripePriceIds?: StripePriceIds;
}

export interface WorkflowStateMachineProps extends WorkflowFunctionProps {
  /** The workflow's registry entry. */
  readonly definition: WorkflowDefinition;
  /** Where the workflow's one-shot schedules go; this construct adds its targets. */
  readonly scheduler: OneShotScheduler;
  /** The stuck-operation sweeper: it compensates this workflow's stuck operations and starts its overdue ones. */
  readonly sweeper: { readonly sweeperFunction: HandlerFunction; readonly alarm: Alarm };
}

export class WorkflowStateMachine extends Construct {
  readonly definition: WorkflowDefinition;
  readonly stateMachine: StateMachine;
  /** Runs every Task state of the ASL (the `step` in its input says which). */
  readonly taskFunction: HandlerFunction;
  /** Compensates executions that timed out, were aborted or failed (the "execution ended badly" handler). */
  readonly timeoutFunction: HandlerFunction;
  /** Matches this state machine's TIMED_OUT, ABORTED and FAILED executions and targets `timeoutFunction`. */
  readonly timeoutRule: Rule;
  /** The sweeper shared by every workflow. */
  readonly sweeperFunction: HandlerFunction;
  /** One function per schedule target of the registry entry, by target. */
  readonly scheduleTargetFunctions: ReadonlyMap<string, HandlerFunction>;
  /**
   * Alarms that mean a tenant may be stuck mid-operation (no action attached: wire your paging topic). The
   * per-workflow outcome and age alarms are attached here with addAlarm (the hook for workflow-alarms.ts).
   */
  readonly alarms: Alarm[];
  /** The alarms every workflow has (workflow-alarms.ts): failure share over the hour, operations past the timeout. */
  readonly workflowAlarms: WorkflowAlarms;
  /** Compensations that could not be delivered or failed after their retries: each one is a tenant to repair. */
  readonly deadLetterQueue: Queue;
  readonly executionLogs: LogGroup;
  /** The whole execution's limit, from the ASL's top-level TimeoutSeconds (the ASL, not CDK, enforces it). */
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: WorkflowStateMachineProps) {
    super(scope, id);
    const { definition } = props;
    this.definition = definition;
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serviceName = props.serviceName ?? 'tenant-lifecycle';
    const environment = { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName };
    const functionProps = { serviceName, logRetention, removalPolicy, environment };
    this.sweeperFunction = props.sweeper.sweeperFunction;

    // Stripe is left out on purpose: without STRIPE_SECRET_KEY the billing port records charges in the
    // table's ledger. A Stripe key comes as a Secrets Manager secret ARN, never as a plain variable.
    this.taskFunction = new HandlerFunction(this, 'TaskFunction', {
      ...functionProps,
      entry: WORKFLOW_TASK_ENTRY,
      description: `Tenant lifecycle ${definition.title}: one step of the workflow`,
      timeout: Duration.seconds(definition.taskTimeoutSeconds),
      environment: { ...environment, WORKFLOW_NAME: definition.name },
    });
    props.table.grantWriteTenants(this.taskFunction);

    const definitionSubstitutions: Record<string, string> = { [definition.taskFunctionPlaceholder]: this.taskFunction.function.functionArn };
    const asl = readWorkflowAsl(definition, definitionSubstitutions);
    checkTaskTimeouts(definition, asl);
    this.timeout = Duration.seconds(asl.timeoutSeconds);

    this.executionLogs = new LogGroup(this, 'ExecutionLogs', { retention: logRetention, removalPolicy });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      comment: definition.description,
      // fromString, not fromFile: the definition stays in the template, where assertions and reviewers see it.
      definitionBody: DefinitionBody.fromString(asl.text),
      definitionSubstitutions,
      // Execution data holds tenant ids and failure causes: events are logged, their payloads are not.
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

    this.deadLetterQueue = deadLetterQueue(
      this,
      'CompensationDeadLetterQueue',
      removalPolicy,
      "of the EventBridge target (events it could not deliver) and the on-failure destination of the timeout function's asynchronous invocations (compensations that failed after their retries)",
    );

    this.timeoutFunction = new HandlerFunction(this, 'TimeoutFunction', {
      ...functionProps,
      entry: EXECUTION_ENDED_ENTRY,
      description: `Tenant lifecycle ${definition.title}: compensate a timed-out, aborted or failed execution`,
      timeout: Duration.seconds(150),
    });
    props.table.grantWriteTenants(this.timeoutFunction);
    // EventBridge invokes Lambda asynchronously: its own retries and DLQ cover delivery only; a compensation
    // that throws is retried by Lambda and then recorded in the same queue.
    this.timeoutFunction.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(this.deadLetterQueue) });

    this.timeoutRule = new Rule(this, 'UncaughtExecutionRule', {
      description: `${definition.title[0]!.toUpperCase()}${definition.title.slice(1)} executions that timed out, were aborted or failed: compensate them.`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: [...UNCAUGHT_EXECUTION_STATUSES], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
    });
    this.timeoutRule.addTarget(new LambdaFunction(this.timeoutFunction.function, { deadLetterQueue: this.deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(6) }));

    this.alarms = [
      breachOnAny(
        this,
        'CompensationDeadLetters',
        `A ${definition.title} compensation could not run after its retries: a tenant may be stuck mid-operation.`,
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      ),
    ];

    // Schedule targets (a change due at the end of a billing period): each starts the workflow, or cancels it.
    const targets = new Map<string, HandlerFunction>();
    for (const { target, entry, tableAccess } of definition.scheduleTargets) {
      const name = pascalCase(target);
      const functionName = `${Stack.of(this).stackName.slice(0, 40)}-${name}`;
      const fn = new HandlerFunction(this, `${pascalCase(target.slice(definition.name.length))}Function`, {
        ...functionProps,
        entry,
        description: `Tenant lifecycle ${definition.title}: the target of its '${target}' schedules`,
        timeout: Duration.seconds(60),
        functionName,
      });
      if (tableAccess === 'read') props.table.grantReadTenants(fn);
      else props.table.grantWriteTenants(fn);
      props.scheduler.addTarget(target as never, fn, functionName);
      // Scheduler invokes its Lambda targets asynchronously: failed deliveries are retried, then dead-lettered.
      fn.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(props.scheduler.deadLetterQueue) });
      this.alarms.push(
        breachOnAny(
          this,
          `${pascalCase(target.slice(definition.name.length))}Errors`,
          `A '${target}' schedule could not be handled (it is retried, then dead-lettered; the sweeper tries again).`,
          fn.function.metricErrors({ period: Duration.minutes(10), statistic: 'Sum' }),
        ),
      );
      targets.set(target, fn);
    }
    this.scheduleTargetFunctions = targets;
    if (targets.size > 0) {
      // A workflow that schedules: its targets and the sweeper (overdue operations) start it and re-arm schedules,
      // and its compensations cancel the schedule of an operation they undo before it started.
      for (const starter of [...targets.values(), this.sweeperFunction]) this.grantStartExecution(starter);
      props.scheduler.grantSchedule(this.sweeperFunction);
      for (const { target, scheduleAccess } of definition.scheduleTargets) {
        const fn = targets.get(target) as HandlerFunction;
        if (scheduleAccess === 'rearm') props.scheduler.grantRearm(fn);
        else if (scheduleAccess !== 'none') props.scheduler.grantSchedule(fn);
      }
      for (const compensator of [this.taskFunction, this.timeoutFunction]) props.scheduler.grantCancel(compensator);
    }
    this.alarms.push(props.sweeper.alarm);
    if (definition.failureAlarm) {
      const { metric, description } = definition.failureAlarm;
      this.alarms.push(
        breachOnAny(this, `${metric}Alarm`, description, new Metric({ namespace: METRICS_NAMESPACE, metricName: metric, dimensionsMap: { service: serviceName, workflow: definition.name }, period: Duration.minutes(5), statistic: 'Sum' })),
      );
    }
    this.workflowAlarms = new WorkflowAlarms(this, 'WorkflowAlarms', { workflow: definition.name, timeout: this.timeout, namespace: METRICS_NAMESPACE, serviceName, measuredEvery: SWEEP_EVERY, dueDate: definition.dueDate });
  }

  /** Let `grantee` start executions of this state machine, and nothing else on it, with its ARN in `<WORKFLOW>_STATE_MACHINE_ARN`. */
  grantStartExecution(grantee: IGrantable & { readonly function?: { addEnvironment(name: string, value: string): unknown } }): Grant {
    grantee.function?.addEnvironment(stateMachineArnVariable(this.definition.name), this.stateMachine.stateMachineArn);
    return this.stateMachine.grantStartExecution(grantee);
  }

  /** The function of a schedule target of this workflow. */
  scheduleTargetFunction(target: string): HandlerFunction {
    const fn = this.scheduleTargetFunctions.get(target);
    if (!fn) throw new Error(`Workflow '${this.definition.name}' has no schedule target '${target}'.`);
    return fn;
  }

  /** Attach an alarm of this workflow (per-workflow outcome and age alarms), so it is listed with the others. */
  addAlarm(alarm: Alarm): void {
    this.alarms.push(alarm);
  }

  /**
   * The functions that reach `reach` by the registry entry's `reaches` (functions/workflows/workflow-definition.ts):
   * the Task function for `task`, the "execution ended badly" function and the shared sweeper for
   * `compensation`, the schedule targets' functions for `scheduleTargets`. The stack grants each exactly these.
   */
  functionsReaching(reach: WorkflowReach): HandlerFunction[] {
    const reaches = this.definition.reaches;
    if (!reaches) return [];
    return [
      ...(reaches.task.includes(reach) ? [this.taskFunction] : []),
      ...(reaches.compensation.includes(reach) ? [this.timeoutFunction, this.sweeperFunction] : []),
      ...(reaches.scheduleTargets.includes(reach) ? this.scheduleTargetFunctions.values() : []),
    ];
  }
}
