/**
 * One-shot schedules on AWS (the EventBridge Scheduler adapter of functions/scheduler): a schedule group for
 * the control plane's schedules, the role the scheduler assumes to invoke each target Lambda, a dead-letter
 * queue for deliveries that failed after the retry policy, and an alarm on it. Functions that make or cancel
 * schedules get the group's name, the role, the queue and the target ARNs as environment variables (read by
 * functions/shared/config.ts) and only the scheduler actions they need on this group's schedules.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { deadLetterQueue } from './dead-letter-queue';
import { Construct } from 'constructs';
import { scheduleTargetVariable, type ScheduleTarget } from '../../functions/scheduler/scheduler-port';
import type { HandlerFunction } from './handler-function';
import { acknowledgeWildcardResource } from './nag-acknowledgements';

export interface OneShotSchedulerProps {
  /**
   * What happens to the dead-letter queue when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class OneShotScheduler extends Construct {
  readonly group: ScheduleGroup;
  /** Assumed by EventBridge Scheduler (from this account only) to invoke the targets and dead-letter. */
  readonly role: Role;
  /** Deliveries that failed after the retry policy: each one is a tenant whose scheduled work did not run. */
  readonly deadLetterQueue: Queue;
  readonly alarm: Alarm;
  readonly #targets = new Map<ScheduleTarget, string>();
  readonly #users: HandlerFunction[] = [];

  constructor(scope: Construct, id: string, props: OneShotSchedulerProps = {}) {
    super(scope, id);
    // A fixed name (unique per stack), so the grants' resource is a plain string the acknowledgement can name.
    this.group = new ScheduleGroup(this, 'Group', {
      scheduleGroupName: `${Stack.of(this).stackName.slice(0, 50)}-schedules`,
      // With the stack: a group left behind would block a redeploy under the same name.
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'EventBridge Scheduler: invoke the tenant lifecycle schedule targets',
    });
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', props.removalPolicy ?? RemovalPolicy.RETAIN, "of the one-shot schedules' deliveries (EventBridge Scheduler DeadLetterConfig)");
    this.deadLetterQueue.grantSendMessages(this.role);
    this.alarm = new Alarm(this, 'DeadLetters', {
      alarmDescription: 'A one-shot schedule (a period-end plan change, a hard delete or its enforcement check) could not be delivered after its retries; the sweepers start overdue changes and late hard deletes, check that they did.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Make `fn` the target of `target` schedules. The ARN is built from the function's fixed name, not read
   * from it, so the target itself (which re-arms its own schedule) can be given it without a cycle.
   */
  addTarget(target: ScheduleTarget, fn: HandlerFunction, functionName: string): void {
    const arn = Stack.of(this).formatArn({ service: 'lambda', resource: 'function', resourceName: functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.#targets.set(target, arn);
    // The unqualified ARN only: schedules name it so, and no version or alias (`:*`) needs invoking.
    Grant.addToPrincipal({ grantee: this.role, actions: ['lambda:InvokeFunction'], resourceArns: [fn.function.functionArn] });
    for (const user of this.#users) user.function.addEnvironment(scheduleTargetVariable(target), arn);
  }

  /** Let `fn` make, re-arm, read and delete this group's schedules (and pass the scheduler its role). */
  grantSchedule(fn: HandlerFunction): void {
    this.#configure(fn);
    // GetSchedule and no ListSchedules (which the CDK's read grant adds): the adapter never lists.
    this.#grantOnSchedules(fn, ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule']);
    this.#grantPassRole(fn);
  }

  /** Let `fn` pass the scheduler's role to EventBridge Scheduler only (needed to create or update a schedule). */
  #grantPassRole(fn: HandlerFunction): void {
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['iam:PassRole'],
      resourceArns: [this.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
  }

  /**
   * Let `fn` read, make and re-arm this group's schedules but not delete them (the deletion sweeper recreating
   * lost ones), and pass the scheduler its role.
   */
  grantRearm(fn: HandlerFunction): void {
    this.#configure(fn);
    this.#grantOnSchedules(fn, ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:GetSchedule']);
    this.#grantPassRole(fn);
  }

  /** Let `fn` delete this group's schedules only (a compensation cancelling a scheduled change). */
  grantCancel(fn: HandlerFunction): void {
    this.#configure(fn);
    this.#grantOnSchedules(fn, ['scheduler:DeleteSchedule']);
  }

  /**
   * Allow `actions` on `schedule/<group>/*` and acknowledge that wildcard on `fn`'s policy, both from one ARN,
   * so the acknowledgement matches the statement in every environment. Not the group's own grants
   * (`group.grants.writeSchedules`): they always name the partition `<AWS::Partition>`, while the stack's
   * formatArn names it literally where the region is known and `@aws-cdk/core:enablePartitionLiterals` is on.
   */
  #grantOnSchedules(fn: HandlerFunction, actions: string[]): void {
    const schedules = this.#schedulesArn();
    Grant.addToPrincipal({ grantee: fn, actions, resourceArns: [schedules] });
    acknowledgeWildcardResource(
      fn.role.node.findChild('DefaultPolicy'),
      schedules,
      'One-shot schedules are created at run time, one per operation (plan-change-<operationId>), so their names ' +
        "cannot be listed in advance; the wildcard is confined to the control plane's own schedule group, and the " +
        'scheduler actions granted are only the ones the function uses.',
    );
  }

  /** Every schedule of this group, `arn:<partition>:scheduler:<region>:<account>:schedule/<group>/*`. */
  #schedulesArn(): string {
    return Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.group.scheduleGroupName}/*` });
  }

  #configure(fn: HandlerFunction): void {
    if (this.#users.includes(fn)) return;
    this.#users.push(fn);
    // The group's name is a plain string in the environment: make the function wait for the group anyway.
    fn.function.node.addDependency(this.group);
    fn.function.addEnvironment('SCHEDULER_GROUP_NAME', this.group.scheduleGroupName);
    fn.function.addEnvironment('SCHEDULER_ROLE_ARN', this.role.roleArn);
    fn.function.addEnvironment('SCHEDULER_DEAD_LETTER_ARN', this.deadLetterQueue.queueArn);
    for (const [target, arn] of this.#targets) fn.function.addEnvironment(scheduleTargetVariable(target), arn);
  }
}
