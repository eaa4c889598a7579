import { App, RemovalPolicy, Stack, Validations, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { HandlerFunction } from '../../infra/constructs/handler-function';
import { scheduleTargetVariable } from '../../functions/scheduler/scheduler-port';
import { OneShotScheduler, type OneShotSchedulerProps } from '../../infra/constructs/one-shot-scheduler';
import { PLAN_CHANGE_PERIOD_END_ENTRY } from '../../infra/constructs/plan-change-workflow';
import {
  actionsOf,
  arnOf,
  cdkOutdir,
  logicalId,
  PASSED_TO_SCHEDULER,
  removeCdkOutdirs,
  resources,
  resourcesOf,
  SCHEDULE_ACTIONS,
  schedulesArn,
  statementsOfRole,
  synthContext,
  validationFindings,
  variablesOf,
  type QueuePolicyProperties,
  type Resource,
  type Statement,
} from '../support/cdk-template';

const STACK_NAME = 'SchedulerTest';
const TARGET_NAME = `${STACK_NAME}-PeriodEnd`;
const SCHEDULER_VARIABLES = ['SCHEDULER_DEAD_LETTER_ARN', 'SCHEDULER_GROUP_NAME', 'SCHEDULER_ROLE_ARN', 'SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN'];

interface Synthesized {
  readonly stack: Stack;
  readonly scheduler: OneShotScheduler;
  readonly target: HandlerFunction;
  /** Granted grantSchedule before the target was added. */
  readonly planner: HandlerFunction;
  /** Granted grantCancel before the target was added. */
  readonly canceller: HandlerFunction;
  /** Granted nothing. */
  readonly bystander: HandlerFunction;
  readonly template: Template;
}

function handler(stack: Stack, id: string, functionName?: string): HandlerFunction {
  return new HandlerFunction(stack, id, { entry: PLAN_CHANGE_PERIOD_END_ENTRY, description: id, serviceName: 'tenant-lifecycle', functionName });
}

/** A stack of its own app, with the project's feature flags (and `context`), no bundling, in `env` if given. */
function newStack(stackName = STACK_NAME, env?: Environment, context: Record<string, unknown> = {}): Stack {
  return new Stack(new App({ outdir: cdkOutdir('one-shot-scheduler'), context: synthContext(context) }), stackName, { env });
}

/** A scheduler with one target, a function granted grantSchedule, one grantCancel and one nothing; the grants come before the target. */
function synthesize(props?: OneShotSchedulerProps, stackName = STACK_NAME): Synthesized {
  const stack = newStack(stackName);
  const scheduler = new OneShotScheduler(stack, 'Scheduler', props);
  const planner = handler(stack, 'Planner');
  const canceller = handler(stack, 'Canceller');
  const bystander = handler(stack, 'Bystander');
  scheduler.grantSchedule(planner);
  scheduler.grantCancel(canceller);
  const target = handler(stack, 'Target', TARGET_NAME);
  scheduler.addTarget('plan-change.period-end', target, TARGET_NAME);
  return { stack, scheduler, target, planner, canceller, bystander, template: Template.fromStack(stack) };
}

const GROUP_NAME = `${STACK_NAME}-schedules`;
const SCHEDULES_ARN = schedulesArn(GROUP_NAME);
const TARGET_ARN = arnOf('lambda', `function:${TARGET_NAME}`);

afterAll(removeCdkOutdirs);

describe('Class: OneShotScheduler', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize();
  });

  describe('Schedule group', () => {
    it("should be one group with a fixed name: the stack's name and -schedules", () => {
      // Prepare
      const { template, scheduler } = synthesized;

      // Assess
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
      template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: GROUP_NAME });
      expect(scheduler.group.scheduleGroupName).toBe(GROUP_NAME);
    });

    it('should keep the name within the 64 characters the service allows for a long stack name', () => {
      // Prepare
      const longName = `S${'x'.repeat(99)}`;

      // Act
      const { template } = synthesize(undefined, longName);
      const [[, group]] = resourcesOf<{ Name: string }>(template, 'AWS::Scheduler::ScheduleGroup') as [[string, Resource & { Properties: { Name: string } }]];

      // Assess
      expect(group.Properties.Name).toBe(`${longName.slice(0, 50)}-schedules`);
      expect(group.Properties.Name.length).toBeLessThanOrEqual(64);
    });
  });

  describe('Role', () => {
    it('should be assumable by EventBridge Scheduler only, from this account only', () => {
      // Prepare
      const { stack, scheduler, template } = synthesized;

      // Act
      const role = resources(template)[logicalId(stack, scheduler.role)];

      // Assess
      expect((role?.Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
        },
      ]);
      expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it("should let the role invoke exactly the target's unqualified ARN and send to the dead-letter queue, and nothing else", () => {
      // Prepare
      const { stack, scheduler, target, template } = synthesized;

      // Act
      const statements = statementsOfRole(template, logicalId(stack, scheduler.role));

      // Assess
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          Resource: { 'Fn::GetAtt': [logicalId(stack, scheduler.deadLetterQueue), 'Arn'] },
        },
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [logicalId(stack, target.function), 'Arn'] } },
      ]);
      expect(JSON.stringify(statements)).not.toContain(':*');
    });

    it('should invoke no function before a target is added', () => {
      // Prepare
      const stack = newStack('EmptyScheduler');
      const scheduler = new OneShotScheduler(stack, 'Scheduler');

      // Act
      const statements = statementsOfRole(Template.fromStack(stack), logicalId(stack, scheduler.role));

      // Assess
      expect(actionsOf(statements).filter((action) => action.startsWith('lambda:'))).toEqual([]);
    });
  });

  describe('Dead-letter queue', () => {
    it('should keep the queue encrypted with SQS-managed keys, SSL-only, for 14 days, and retained by default', () => {
      // Prepare
      const { stack, scheduler, template } = synthesized;
      const queueId = logicalId(stack, scheduler.deadLetterQueue);

      // Act
      const queue = resources(template)[queueId];
      const policies = resourcesOf<QueuePolicyProperties>(template, 'AWS::SQS::QueuePolicy');

      // Assess
      template.resourceCountIs('AWS::SQS::Queue', 1);
      expect(queue?.Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 });
      expect(queue?.DeletionPolicy).toBe('Retain');
      expect(policies).toHaveLength(1);
      expect(policies[0]?.[1].Properties.Queues).toEqual([{ Ref: queueId }]);
      expect(policies[0]?.[1].Properties.PolicyDocument.Statement).toEqual([
        {
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
        },
      ]);
    });

    it('should delete the queue with the stack when told to', () => {
      // Act
      const { stack, scheduler, template } = synthesize({ removalPolicy: RemovalPolicy.DESTROY });

      // Assess
      expect(resources(template)[logicalId(stack, scheduler.deadLetterQueue)]?.DeletionPolicy).toBe('Delete');
    });

    it('should alarm as soon as one message is visible in the queue', () => {
      // Prepare
      const { stack, scheduler, template } = synthesized;

      // Assess
      template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
      expect(resources(template)[logicalId(stack, scheduler.alarm)]?.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, scheduler.deadLetterQueue), 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });
  });

  describe('Method: grantSchedule', () => {
    it("should let the function create, update, read and delete this group's schedules only, and pass the scheduler's role only", () => {
      // Prepare
      const { stack, scheduler, planner, template } = synthesized;

      // Act
      const statements = statementsOfRole(template, logicalId(stack, planner.role)).filter((statement) => !actionsOf([statement]).every((action) => action.startsWith('logs:')));

      // Assess
      const schedule = statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('scheduler:')));
      expect(actionsOf(schedule).sort()).toEqual(SCHEDULE_ACTIONS);
      for (const statement of schedule) expect(statement).toEqual({ Effect: 'Allow', Action: statement.Action, Resource: SCHEDULES_ARN });
      const others = statements.filter((statement) => !schedule.includes(statement));
      expect(others).toEqual([{ Effect: 'Allow', Action: 'iam:PassRole', Resource: { 'Fn::GetAtt': [logicalId(stack, scheduler.role), 'Arn'] }, Condition: PASSED_TO_SCHEDULER }]);
    });

    it('should give the function the group, role, dead-letter queue and target ARN variables', () => {
      // Prepare
      const { stack, scheduler, planner, template } = synthesized;

      // Act
      const variables = variablesOf(template, logicalId(stack, planner.function));

      // Assess
      expect(variables).toMatchObject({
        SCHEDULER_GROUP_NAME: GROUP_NAME,
        SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [logicalId(stack, scheduler.role), 'Arn'] },
        SCHEDULER_DEAD_LETTER_ARN: { 'Fn::GetAtt': [logicalId(stack, scheduler.deadLetterQueue), 'Arn'] },
        SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN: TARGET_ARN,
      });
    });
  });

  describe('Method: grantCancel', () => {
    it("should let the function delete this group's schedules and nothing else: no create, no read, no PassRole", () => {
      // Prepare
      const { stack, canceller, template } = synthesized;

      // Act
      const statements = statementsOfRole(template, logicalId(stack, canceller.role)).filter((statement) => !actionsOf([statement]).every((action) => action.startsWith('logs:')));

      // Assess
      expect(statements).toEqual([{ Effect: 'Allow', Action: 'scheduler:DeleteSchedule', Resource: SCHEDULES_ARN }]);
    });

    it('should give the function the same variables as grantSchedule', () => {
      // Prepare
      const { stack, planner, canceller, template } = synthesized;

      // Act
      const variables = variablesOf(template, logicalId(stack, canceller.function));

      // Assess
      const planned = variablesOf(template, logicalId(stack, planner.function));
      for (const name of SCHEDULER_VARIABLES) expect([name, variables[name]]).toEqual([name, planned[name]]);
    });
  });

  describe('Method: addTarget', () => {
    it('should name the target variable after the target', () => {
      // Assess
      expect(scheduleTargetVariable('plan-change.period-end')).toBe('SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN');
    });

    it("should build the target's ARN from its fixed name, the same name the function is deployed with", () => {
      // Prepare
      const { stack, target, planner, template } = synthesized;

      // Assess
      expect(resources(template)[logicalId(stack, target.function)]?.Properties.FunctionName).toBe(TARGET_NAME);
      expect(variablesOf(template, logicalId(stack, planner.function)).SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN).toEqual(TARGET_ARN);
    });

    it('should reach functions granted before the target was added, and functions granted after it', () => {
      // Prepare: the shared stack granted the planner and canceller before adding the target
      const { stack: before, planner, canceller, template: beforeTemplate } = synthesized;
      const after = newStack();
      const scheduler = new OneShotScheduler(after, 'Scheduler');
      const target = handler(after, 'Target', TARGET_NAME);
      scheduler.addTarget('plan-change.period-end', target, TARGET_NAME);
      const late = handler(after, 'Late');

      // Act
      scheduler.grantCancel(late);
      const afterTemplate = Template.fromStack(after);

      // Assess
      for (const fn of [planner, canceller]) {
        expect(variablesOf(beforeTemplate, logicalId(before, fn.function)).SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN).toEqual(TARGET_ARN);
      }
      expect(variablesOf(afterTemplate, logicalId(after, late.function)).SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN).toEqual(TARGET_ARN);
    });

    it('should give a function that was granted nothing neither variables nor scheduler permissions', () => {
      // Prepare
      const { stack, target, bystander, template } = synthesized;

      // Assess
      for (const fn of [bystander, target]) {
        const variables = variablesOf(template, logicalId(stack, fn.function));
        for (const name of SCHEDULER_VARIABLES) expect([name, variables[name]]).toEqual([name, undefined]);
        const actions = actionsOf(statementsOfRole(template, logicalId(stack, fn.role)));
        expect(actions.filter((action) => !action.startsWith('logs:'))).toEqual([]);
      }
    });
  });

  describe('cdk-nag', () => {
    /** Synthesize with AwsSolutionsChecks and list the unacknowledged findings as `rule construct-path`. */
    function nagFindings(stack: Stack): string[] {
      const app = stack.node.root as App;
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      // a finding fails the synthesis; the report lists it
      return validationFindings(app).findings.flatMap((finding) => finding.constructs.map((construct) => `${finding.rule} ${construct}`));
    }

    /** Environment-agnostic; and a concrete one where the partition is a literal too (`aws-cn`). */
    const ENVIRONMENTS: readonly { name: string; env?: Environment; context: Record<string, unknown>; byHand: string }[] = [
      { name: 'environment-agnostic', context: {}, byHand: '<AWS::Region>:<AWS::AccountId>' },
      {
        name: 'cn-north-1 with partition literals',
        env: { account: '123456789012', region: 'cn-north-1' },
        context: { '@aws-cdk/core:enablePartitionLiterals': true },
        byHand: 'cn-north-1:123456789012',
      },
    ];

    it.each(ENVIRONMENTS)("should acknowledge the schedule wildcard on each grantee's policy, and only there ($name)", ({ env, context, byHand }) => {
      // Prepare: the grantees of grantSchedule and grantCancel, and a role given the same wildcard by hand
      const stack = newStack(STACK_NAME, env, context);
      const scheduler = new OneShotScheduler(stack, 'Scheduler');
      scheduler.grantSchedule(handler(stack, 'Planner'));
      scheduler.grantCancel(handler(stack, 'Canceller'));
      scheduler.addTarget('plan-change.period-end', handler(stack, 'Target', TARGET_NAME), TARGET_NAME);
      scheduler.group.grants.deleteSchedules(handler(stack, 'ByHand'));

      // Act
      const findings = nagFindings(stack);

      // Assess
      expect(findings).toEqual([
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:${byHand}:schedule/${GROUP_NAME}/*] ${STACK_NAME}/ByHand/Role/DefaultPolicy/Resource`,
      ]);
    });
  });
});
