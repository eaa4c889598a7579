import { workflowDefinitions } from '../../functions/workflows/registry';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { FALLBACK_ROUTE, ROUTES } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import { aslPlaceholders, PLAN_CHANGE_ASL_PATH, PLAN_CHANGE_PERIOD_END_ENTRY } from '../../infra/constructs/plan-change-workflow';
import { CHANGE_PLAN_ROUTE_ID, type TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import {
  actionsOf,
  arnOf,
  asArray,
  cdkOutdir,
  logicalId,
  PASSED_TO_SCHEDULER,
  REPO_ROOT,
  removeCdkOutdirs,
  resources,
  resourcesOf,
  SCHEDULE_ACTIONS,
  schedulesArn,
  statementsOfRole,
  synthContext,
  TABLE_WRITE_ACTIONS,
  variablesOf,
  type PolicyProperties,
  type QueuePolicyProperties,
  type Resource,
  tableReadResources,
} from '../support/cdk-template';

/** The ASL file as the repository holds it, read independently of the construct. */
const ASL_TEXT = readFileSync(path.join(REPO_ROOT, 'statemachines', 'plan-change.asl.json'), 'utf8');
const ASL = JSON.parse(ASL_TEXT) as { TimeoutSeconds: number; States: Record<string, { Type: string; Resource?: string }> };

/** The fixed name of the period-end function (its one-shot schedules' target ARN is built from it). */
const PERIOD_END_FUNCTION_NAME = 'TenantLifecycle-PlanChangePeriodEnd';
/** Every schedule of the stack's own group: what OneShotScheduler's grants name. */
const SCHEDULES_ARN = schedulesArn('TenantLifecycle-schedules');
/** What the StateMachine L2 adds for vended logs and X-Ray; none of these actions takes a resource ARN. */
const LOGGING_AND_TRACING_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];

interface StateMachineProperties {
  readonly DefinitionString: string;
  readonly DefinitionSubstitutions: Record<string, unknown>;
  readonly StateMachineType: string;
  readonly RoleArn: unknown;
  readonly LoggingConfiguration: { Level: string; IncludeExecutionData: boolean; Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: unknown } }[] };
  readonly TracingConfiguration: { Enabled: boolean };
}
interface RuleTarget {
  readonly Arn: unknown;
  readonly DeadLetterConfig?: { Arn: unknown };
  readonly RetryPolicy?: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
}

function synthesize(): { stack: TenantLifecycleStack; template: Template } {
  const { stack } = buildApp({ outdir: cdkOutdir('plan-change'), nag: false, context: synthContext() });
  return { stack, template: Template.fromStack(stack) };
}

afterAll(removeCdkOutdirs);

describe('Class: PlanChangeWorkflow', () => {
  let stack: TenantLifecycleStack;
  let template: Template;
  let stateMachineId: string;
  let stateMachine: StateMachineProperties;
  let taskFunctionArn: unknown;
  let timeoutFunctionArn: unknown;
  let tableArn: unknown;

  beforeAll(() => {
    ({ stack, template } = synthesize());
    // One state machine per workflow of the registry; this file is about plan change's.
    const all = resourcesOf<StateMachineProperties>(template, 'AWS::StepFunctions::StateMachine');
    expect(all).toHaveLength(workflowDefinitions().length);
    const machines = all.filter(([id]) => id === logicalId(stack, stack.planChange.stateMachine));
    expect(machines).toHaveLength(1);
    [[stateMachineId, { Properties: stateMachine }]] = machines as [[string, Resource & { Properties: StateMachineProperties }]];
    taskFunctionArn = { 'Fn::GetAtt': [logicalId(stack, stack.planChange.taskFunction.function), 'Arn'] };
    timeoutFunctionArn = { 'Fn::GetAtt': [logicalId(stack, stack.planChange.timeoutFunction.function), 'Arn'] };
    tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.table.table), 'Arn'] };
  });

  describe('Definition', () => {
    it('should read the ASL from statemachines/ by a path that does not depend on the working directory', () => {
      // Assess
      expect(PLAN_CHANGE_ASL_PATH).toBe(path.join(REPO_ROOT, 'statemachines', 'plan-change.asl.json'));
    });

    it('should put the ASL file itself in the template, every state included', () => {
      // Act
      const definition = JSON.parse(stateMachine.DefinitionString) as typeof ASL;

      // Assess
      expect(definition).toEqual(ASL);
      expect(Object.keys(definition.States).sort()).toEqual(Object.keys(ASL.States).sort());
    });

    it('should fill every placeholder of the ASL file, and only those, through DefinitionSubstitutions', () => {
      // Prepare
      const placeholders = aslPlaceholders(ASL_TEXT);

      // Assess
      expect(placeholders.length).toBeGreaterThan(0);
      expect(Object.keys(stateMachine.DefinitionSubstitutions).sort()).toEqual([...placeholders].sort());
      expect(aslPlaceholders(stateMachine.DefinitionString).sort()).toEqual([...placeholders].sort());
    });

    it('should leave no ${...} placeholder once substituted, and send every Task state to the task function', () => {
      // Prepare: substitute as CloudFormation does, each value stood in for by the logical id it names
      const standIn = (value: unknown): string => `arn:${JSON.stringify(value)}`;

      // Act
      const substituted = stateMachine.DefinitionString.replace(/\$\{(\w+)\}/g, (match, name: string) =>
        name in stateMachine.DefinitionSubstitutions ? standIn(stateMachine.DefinitionSubstitutions[name]).replace(/"/g, '\\"') : match,
      );

      // Assess
      expect(substituted).not.toMatch(/\$\{/);
      const states = (JSON.parse(substituted) as typeof ASL).States;
      const tasks = Object.values(states).filter((state) => state.Type === 'Task');
      expect(tasks.length).toBe(Object.values(ASL.States).filter((state) => state.Type === 'Task').length);
      for (const task of tasks) expect(task.Resource).toBe(standIn(taskFunctionArn));
    });

    it("should carry the ASL's top-level execution timeout", () => {
      // Assess
      expect(ASL.TimeoutSeconds).toBeGreaterThan(0);
      expect((JSON.parse(stateMachine.DefinitionString) as typeof ASL).TimeoutSeconds).toBe(ASL.TimeoutSeconds);
      expect(stack.planChange.timeout.toSeconds()).toBe(ASL.TimeoutSeconds);
    });
  });

  describe('State machine', () => {
    it('should be a Standard workflow with X-Ray tracing', () => {
      // Assess
      expect(stateMachine.StateMachineType).toBe('STANDARD');
      expect(stateMachine.TracingConfiguration).toEqual({ Enabled: true });
    });

    it('should log ALL events to its own log group, without execution data (tenant data stays out of logs)', () => {
      // Assess
      expect(stateMachine.LoggingConfiguration).toEqual({
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logicalId(stack, stack.planChange.executionLogs), 'Arn'] } } }],
      });
      expect(resources(template)[logicalId(stack, stack.planChange.executionLogs)]?.Properties.RetentionInDays).toBe(30);
    });

    it('should let its role invoke the task function, exactly that ARN, and no other function', () => {
      // Act
      const statements = statementsOfRole(template, logicalId(stack, stack.planChange.stateMachine.role));
      const lambda = statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('lambda:')));

      // Assess
      expect(lambda).toEqual([{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: taskFunctionArn }]);
    });

    it('should hold wildcard resources only for the logging and tracing actions that take no ARN', () => {
      // Act
      const statements = statementsOfRole(template, logicalId(stack, stack.planChange.stateMachine.role));
      const wildcard = statements.filter((statement) => asArray(statement.Resource).includes('*'));

      // Assess: these are what the AwsSolutions-IAM5[Resource::*] acknowledgement covers, nothing more
      expect(actionsOf(wildcard).sort()).toEqual(LOGGING_AND_TRACING_ACTIONS);
      expect(actionsOf(statements).sort()).toEqual([...LOGGING_AND_TRACING_ACTIONS, 'lambda:InvokeFunction'].sort());
    });
  });

  describe('Functions', () => {
    it.each([
      ['task', () => stack.planChange.taskFunction],
      ['timeout', () => stack.planChange.timeoutFunction],
    ])('should let the %s function write items on the table only and read the table and byState index', (_name, handlerOf) => {
      // Act
      const dynamodb = statementsOfRole(template, logicalId(stack, handlerOf().role)).filter((statement) =>
        actionsOf([statement]).some((action) => action.startsWith('dynamodb:')),
      );

      // Assess
      const writes = dynamodb.filter((statement) => actionsOf([statement]).some((action) => TABLE_WRITE_ACTIONS.includes(action)));
      expect(writes).toHaveLength(1);
      expect(actionsOf(writes).sort()).toEqual(TABLE_WRITE_ACTIONS);
      expect(writes[0]?.Resource).toEqual(tableArn);
      const reads = dynamodb.filter((statement) => !writes.includes(statement));
      expect(actionsOf(reads).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
      expect(reads.map((statement) => statement.Resource)).toEqual([tableReadResources(tableArn)]);
    });

    it.each([
      ['task', () => stack.planChange.taskFunction],
      ['timeout', () => stack.planChange.timeoutFunction],
    ])('should give the %s function TABLE_NAME and no plain Stripe secret', (_name, handlerOf) => {
      // Act
      const variables = variablesOf(template, logicalId(stack, handlerOf().function));

      // Assess
      expect(variables.TABLE_NAME).toEqual({ Ref: logicalId(stack, stack.table.table) });
      expect(variables.STRIPE_SECRET_KEY).toBeUndefined();
    });

    it("should let the task function touch nothing but its log group, the table, and deleting its group's schedules", () => {
      // Act
      const statements = statementsOfRole(template, logicalId(stack, stack.planChange.taskFunction.role));

      // Assess
      expect(actionsOf(statements).filter((action) => !action.startsWith('dynamodb:')).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'scheduler:DeleteSchedule']);
      expect(statements.filter((statement) => actionsOf([statement]).includes('scheduler:DeleteSchedule'))).toEqual([
        { Effect: 'Allow', Action: 'scheduler:DeleteSchedule', Resource: SCHEDULES_ARN },
      ]);
    });

    it('should give the task and timeout functions the scheduler variables, to cancel the schedule of a change they undo', () => {
      for (const handler of [stack.planChange.taskFunction, stack.planChange.timeoutFunction]) {
        // Act
        const variables = variablesOf(template, logicalId(stack, handler.function));

        // Assess
        expect(variables).toMatchObject({
          SCHEDULER_GROUP_NAME: 'TenantLifecycle-schedules',
          SCHEDULER_ROLE_ARN: { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.role), 'Arn'] },
          SCHEDULER_DEAD_LETTER_ARN: { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.deadLetterQueue), 'Arn'] },
        });
      }
    });
  });

  describe('Alarms', () => {
    it('should alarm on any compensation dead letter, any period-end error and any sweeper error', () => {
      // Act
      const alarms = stack.planChange.alarms.map((alarm) => resources(template)[logicalId(stack, alarm)]?.Properties);

      // Assess: the workflow's three, its two workflow alarms (workflow-alarms.test.ts), the scheduler's
      // dead-letter alarm (one-shot-scheduler.test.ts), the export workflow's dead-letter alarm and three workflow
      // alarms (its due-date one too), and the hard delete's dead-letter alarm, its two schedule targets' errors,
      // its HardDeleteFailed alarm and its two workflow alarms, the deletion sweeper's errors and ComplianceViolations
      // alarms, the lifecycle events' dead-letter, errors and iterator-age alarms (lifecycle-events.test.ts), the
      // dunning ladder's timer errors, the billing reconciliation's errors, and the reactivation's dead-letter alarm
      // and its two workflow alarms (it has no schedule target and no failure metric of its own)
      template.resourceCountIs('AWS::CloudWatch::Alarm', 26);
      expect(alarms).toHaveLength(3);
      const breachOnAny = { Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, TreatMissingData: 'notBreaching' };
      expect(alarms).toEqual([
        expect.objectContaining({
          ...breachOnAny,
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, stack.planChange.deadLetterQueue), 'QueueName'] } }],
        }),
        expect.objectContaining({
          ...breachOnAny,
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.planChange.periodEndFunction.function) } }],
        }),
        expect.objectContaining({
          ...breachOnAny,
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, stack.planChange.sweeperFunction.function) } }],
        }),
      ]);
    });
  });

  describe('Stuck-operation sweeper', () => {
    it('should run the sweeper every 10 minutes with table access only', () => {
      // Assess
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(10 minutes)',
        Targets: [{ Arn: { 'Fn::GetAtt': [logicalId(stack, stack.planChange.sweeperFunction.function), 'Arn'] } }],
      });
    });
  });

  describe('Timeout rule', () => {
    it("should match this state machine's TIMED_OUT, ABORTED and FAILED executions", () => {
      // Assess
      template.resourceCountIs('AWS::Events::Rule', 7); // this rule, the export's, the hard delete's, the reactivation's, the stuck-operation sweeper's, the deletion sweeper's and the billing reconciliation's schedules
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: { status: ['TIMED_OUT', 'ABORTED', 'FAILED'], stateMachineArn: [{ Ref: stateMachineId }] },
        },
        State: 'ENABLED',
      });
    });

    it('should target the timeout function with retries and the dead-letter queue', () => {
      // Act
      const timeoutRuleId = logicalId(stack, stack.planChange.timeoutRule);
      const [[, rule]] = resourcesOf<{ Targets: RuleTarget[] }>(template, 'AWS::Events::Rule').filter(([id]) => id === timeoutRuleId) as [[string, Resource & { Properties: { Targets: RuleTarget[] } }]];

      // Assess
      const dlqArn = { 'Fn::GetAtt': [logicalId(stack, stack.planChange.deadLetterQueue), 'Arn'] };
      expect(rule.Properties.Targets).toHaveLength(1);
      expect(rule.Properties.Targets[0]).toMatchObject({ Arn: timeoutFunctionArn, DeadLetterConfig: { Arn: dlqArn } });
      expect(rule.Properties.Targets[0]?.RetryPolicy?.MaximumRetryAttempts).toBeGreaterThan(0);
    });

    it('should let EventBridge invoke the timeout function from this rule only', () => {
      // Act
      const permissions = resourcesOf<{ FunctionName: unknown; Principal: string; SourceArn: unknown }>(template, 'AWS::Lambda::Permission').filter(
        ([, permission]) => JSON.stringify(permission.Properties.FunctionName) === JSON.stringify(timeoutFunctionArn),
      );

      // Assess
      const ruleId = logicalId(stack, stack.planChange.timeoutRule);
      expect(permissions.map(([, permission]) => [permission.Properties.Principal, permission.Properties.SourceArn])).toEqual([
        ['events.amazonaws.com', { 'Fn::GetAtt': [ruleId, 'Arn'] }],
      ]);
    });

    it('should send compensations that still fail after their retries to the same dead-letter queue', () => {
      // Assess
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: logicalId(stack, stack.planChange.timeoutFunction.function) },
        Qualifier: '$LATEST',
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack, stack.planChange.deadLetterQueue), 'Arn'] } } },
      });
    });

    it('should keep the dead-letter queue encrypted, SSL-only, for 14 days, and retained by default', () => {
      // Prepare
      const queueId = logicalId(stack, stack.planChange.deadLetterQueue);

      // Act
      const queue = resources(template)[queueId];
      const policies = resourcesOf<QueuePolicyProperties>(template, 'AWS::SQS::QueuePolicy').filter(([, candidate]) =>
        candidate.Properties.Queues.some((ref) => JSON.stringify(ref) === JSON.stringify({ Ref: queueId })),
      );

      // Assess: one policy of its own (the scheduler's dead-letter queue has another)
      expect(queue?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 });
      expect(queue?.DeletionPolicy).toBe('Retain');
      expect(policies).toHaveLength(1);
      const [[, policy]] = policies as [[string, Resource & { Properties: QueuePolicyProperties }]];
      expect(policy.Properties.Queues).toEqual([{ Ref: queueId }]);
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    });
  });

  describe('Period-end function', () => {
    it('should run period-end.ts under its fixed name for 60 s', () => {
      // Act
      const properties = resources(template)[logicalId(stack, stack.planChange.periodEndFunction.function)]?.Properties;

      // Assess
      expect(PLAN_CHANGE_PERIOD_END_ENTRY).toBe('functions/plan-change/handlers/period-end.ts');
      expect(properties).toMatchObject({ FunctionName: PERIOD_END_FUNCTION_NAME, Timeout: 60 });
    });

    it("should be the scheduler's target: the role invokes it, and the target ARN is built from its fixed name", () => {
      // Prepare
      const periodEnd = stack.planChange.periodEndFunction;

      // Act
      const invoke = statementsOfRole(template, logicalId(stack, stack.scheduler.role)).filter((statement) => actionsOf([statement]).includes('lambda:InvokeFunction'));
      const variables = variablesOf(template, logicalId(stack, periodEnd.function));

      // Assess: the role invokes the schedule targets of every workflow (this one's, the hard delete's two) and of every
      // feature (the dunning ladder's timer), and no other function
      const targets = [
        ...[...stack.workflows.values()].flatMap((workflow) => [...workflow.scheduleTargetFunctions.values()]),
        ...[...stack.features.values()].flatMap((feature) => [...feature.targetFunctions.values()]),
      ];
      expect(targets).toContain(periodEnd);
      expect(invoke).toHaveLength(1);
      expect(new Set(asArray(invoke[0]?.Resource).map((resource) => JSON.stringify(resource)))).toEqual(
        new Set(targets.map((target) => JSON.stringify({ 'Fn::GetAtt': [logicalId(stack, target.function), 'Arn'] }))),
      );
      expect(variables.SCHEDULE_TARGET_PLAN_CHANGE_PERIOD_END_ARN).toEqual(arnOf('lambda', `function:${PERIOD_END_FUNCTION_NAME}`));
    });

    it('should retry failed deliveries twice within 6 hours, then send them to the scheduler dead-letter queue', () => {
      // Act
      const configs = resourcesOf<Record<string, unknown>>(template, 'AWS::Lambda::EventInvokeConfig').filter(
        ([, config]) => JSON.stringify(config.Properties.FunctionName) === JSON.stringify({ Ref: logicalId(stack, stack.planChange.periodEndFunction.function) }),
      );

      // Assess
      expect(configs.map(([, config]) => config.Properties)).toEqual([
        {
          FunctionName: { Ref: logicalId(stack, stack.planChange.periodEndFunction.function) },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: 6 * 60 * 60,
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.deadLetterQueue), 'Arn'] } } },
        },
      ]);
    });

    it('should let it touch its log group, the table, the state machine, its group\'s schedules, the scheduler role (PassRole) and the scheduler dead-letter queue, nothing else', () => {
      // Act
      const statements = statementsOfRole(template, logicalId(stack, stack.planChange.periodEndFunction.role)).filter(
        (statement) => !actionsOf([statement]).every((action) => action.startsWith('dynamodb:') || action.startsWith('logs:')),
      );

      // Assess
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          Resource: { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.deadLetterQueue), 'Arn'] },
        },
        { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stateMachineId } },
        {
          Effect: 'Allow',
          Action: SCHEDULE_ACTIONS,
          Resource: SCHEDULES_ARN,
        },
        { Effect: 'Allow', Action: 'iam:PassRole', Resource: { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.role), 'Arn'] }, Condition: PASSED_TO_SCHEDULER },
      ]);
    });

    it('should let it write items on the table only and read the table and byState index', () => {
      // Act
      const dynamodb = statementsOfRole(template, logicalId(stack, stack.planChange.periodEndFunction.role)).filter((statement) =>
        actionsOf([statement]).some((action) => action.startsWith('dynamodb:')),
      );

      // Assess
      expect(dynamodb).toEqual([
        { Effect: 'Allow', Action: TABLE_WRITE_ACTIONS, Resource: tableArn },
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: tableReadResources(tableArn) },
      ]);
    });
  });

  describe('Stack wiring', () => {
    it('should give ChangePlan the state machine ARN in PLAN_CHANGE_STATE_MACHINE_ARN', () => {
      // Act
      const changePlan = stack.api.routeFunction(CHANGE_PLAN_ROUTE_ID);
      const variables = variablesOf(template, logicalId(stack, changePlan.function));

      // Assess
      expect(variables.PLAN_CHANGE_STATE_MACHINE_ARN).toEqual({ Ref: stateMachineId });
    });

    it('should let ChangePlan start executions of exactly this state machine, and do nothing else with it', () => {
      // Act
      const states = statementsOfRole(template, logicalId(stack, stack.api.routeFunction(CHANGE_PLAN_ROUTE_ID).role)).filter((statement) =>
        actionsOf([statement]).some((action) => action.startsWith('states:')),
      );

      // Assess
      expect(states).toEqual([{ Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stateMachineId } }]);
    });

    it('should let the period-end function start executions of exactly this state machine, and the sweeper of those of the workflows that schedule, with their ARNs', () => {
      const scheduling = [...stack.workflows.values()].filter((workflow) => workflow.scheduleTargetFunctions.size > 0);
      expect(scheduling).toContain(stack.planChange);
      for (const [starter, machines] of [
        [stack.planChange.periodEndFunction, [stack.planChange]],
        [stack.planChange.sweeperFunction, scheduling],
      ] as const) {
        // Act
        const states = statementsOfRole(template, logicalId(stack, starter.role)).filter((statement) => actionsOf([statement]).some((action) => action.startsWith('states:')));
        const variables = variablesOf(template, logicalId(stack, starter.function));

        // Assess
        expect(states).toHaveLength(1);
        expect(states[0]?.Action).toBe('states:StartExecution');
        expect(new Set(asArray(states[0]?.Resource).map((resource) => JSON.stringify(resource)))).toEqual(new Set(machines.map((machine) => JSON.stringify({ Ref: logicalId(stack, machine.stateMachine) }))));
        expect(variables.PLAN_CHANGE_STATE_MACHINE_ARN).toEqual({ Ref: stateMachineId });
      }
    });

    it('should give no role but ChangePlan, the period-end function and the sweeper any Step Functions permission, and no other function the state machine ARN', () => {
      // Prepare
      const starters = [stack.api.routeFunction(CHANGE_PLAN_ROUTE_ID), stack.planChange.periodEndFunction, stack.planChange.sweeperFunction];
      const starterRoleIds = starters.map((starter) => logicalId(stack, starter.role));
      const starterFunctionIds = starters.map((starter) => logicalId(stack, starter.function));

      // Act
      const others = resourcesOf<PolicyProperties>(template, 'AWS::IAM::Policy').filter(
        ([, policy]) => !policy.Properties.Roles.some((role) => starterRoleIds.includes(role.Ref)),
      );
      const functions = resourcesOf<{ Environment?: { Variables: Record<string, unknown> } }>(template, 'AWS::Lambda::Function').filter(
        ([id]) => !starterFunctionIds.includes(id),
      );

      // Assess
      expect(others.length).toBeGreaterThan(0);
      // (Other workflows' starters, e.g. StartExport, hold states: actions on their own state machine only.)
      const onPlanChange = others.flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement).filter((statement) => JSON.stringify(statement).includes(logicalId(stack, stack.planChange.stateMachine)) || JSON.stringify(statement.Resource) === '"*"');
      expect(actionsOf(onPlanChange).filter((action) => action.startsWith('states:'))).toEqual([]);
      for (const [id, fn] of functions) expect([id, fn.Properties.Environment?.Variables.PLAN_CHANGE_STATE_MACHINE_ARN]).toEqual([id, undefined]);
      expect([...ROUTES, FALLBACK_ROUTE].filter((route) => route.id === CHANGE_PLAN_ROUTE_ID)).toHaveLength(1);
    });

    it('should deploy without a dependency cycle, though ChangePlan refers to the state machine by its ARN', () => {
      // Act & Assess: Template.fromStack refuses a template whose resources depend on each other in a cycle
      expect(() => Template.fromStack(stack)).not.toThrow();
      expect(JSON.stringify(resources(template)[stateMachineId])).not.toContain(logicalId(stack, stack.api.routeFunction(CHANGE_PLAN_ROUTE_ID).function));
    });

    it('should give the period-end function its own target ARN without referring to itself', () => {
      // Act
      const periodEndId = logicalId(stack, stack.planChange.periodEndFunction.function);

      // Assess: a function whose environment named its own ARN would depend on itself
      expect(JSON.stringify(resources(template)[periodEndId]?.Properties)).not.toContain(periodEndId);
    });
  });
});
