import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { FALLBACK_ROUTE, ROUTES, reachesTable, routeTableGrants, type RouteDefinition } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import { EXPORT_WORKFLOW } from '../../functions/export/export-definition';
import { ENFORCEMENT_TARGET, HARD_DELETE_WORKFLOW } from '../../functions/deletion/hard-delete-definition';
import { DUNNING_FEATURE } from '../../functions/dunning/dunning-definition';
import { REACTIVATION_WORKFLOW } from '../../functions/reactivation/reactivation-definition';
import type { HandlerFunction } from '../../infra/constructs/handler-function';
import type { WorkflowStateMachine } from '../../infra/constructs/workflow-state-machine';
import {
  CANCEL_DELETION_ROUTE_ID,
  CANCEL_SCHEDULED_PLAN_CHANGE_ROUTE_ID,
  CHANGE_PLAN_ROUTE_ID,
  CREATE_TENANT_ROUTE_ID,
  GET_EXPORT_ROUTE_ID,
  INITIATE_DELETION_ROUTE_ID,
  REACTIVATE_TENANT_ROUTE_ID,
  RECONCILE_BILLING_ROUTE_ID,
  RELEASE_LEGAL_HOLD_ROUTE_ID,
  STRIPE_WEBHOOK_ROUTE_ID,
  type TenantLifecycleStack,
} from '../../infra/tenant-lifecycle-stack';
import {
  actionsOf,
  asArray,
  cdkOutdir,
  logicalId,
  PASSED_TO_SCHEDULER,
  removeCdkOutdirs,
  REPO_ROOT,
  resources,
  resourcesOf,
  SCHEDULE_ACTIONS,
  schedulesArn,
  statementsOf,
  statementsOfRole,
  synthContext,
  TABLE_WRITE_ACTIONS,
  variablesOf,
  type PolicyProperties,
  type Resource,
  type Statement,
} from '../support/cdk-template';

/**
 * Functions outside the route table that write the table: the plan-change task, timeout and period-end functions,
 * the export's task and timeout functions, the hard delete's task and timeout functions (its deadline and
 * enforcement targets and the deletion sweeper only read it), the reactivation's task and timeout functions, the
 * dunning ladder's timer and the billing reconciliation.
 */
const WORKFLOW_WRITERS = 12;
/** Every schedule of the stack's own group, `schedule/TenantLifecycle-schedules/*`: the only wildcard resource outside the state machine role. */
const SCHEDULES_ARN = schedulesArn('TenantLifecycle-schedules');
const ALL_ROUTES: readonly RouteDefinition[] = [...ROUTES, FALLBACK_ROUTE];

interface FunctionProperties {
  readonly Runtime: string;
  readonly Architectures: string[];
  readonly MemorySize: number;
  readonly Timeout: number;
  readonly Role: unknown;
  readonly LoggingConfig: { LogGroup: unknown };
  readonly Environment: { Variables: Record<string, unknown> };
}

function synthesize(context: Record<string, unknown> = {}): { stack: TenantLifecycleStack; template: Template } {
  const { stack } = buildApp({ outdir: cdkOutdir('stack'), nag: false, context: synthContext(context) });
  return { stack, template: Template.fromStack(stack) };
}

function functionProperties(template: Template, functionId: string): FunctionProperties {
  return resources(template)[functionId]?.Properties as unknown as FunctionProperties;
}

/** The export workflow's construct. */
function exportOf(stack: TenantLifecycleStack): WorkflowStateMachine {
  return stack.workflows.get(EXPORT_WORKFLOW.name)!;
}

/** The hard-delete workflow's construct. */
function hardDeleteOf(stack: TenantLifecycleStack): WorkflowStateMachine {
  return stack.workflows.get(HARD_DELETE_WORKFLOW.name)!;
}

/** The reactivation workflow's construct. */
function reactivationOf(stack: TenantLifecycleStack): WorkflowStateMachine {
  return stack.workflows.get(REACTIVATION_WORKFLOW.name)!;
}

/** Every function of the stack: the user pool's token trigger, one per route, the plan-change workflow's four, the export's two, the hard delete's four, the reactivation's two, the deletion sweeper and the lifecycle events' publisher. */
function allFunctions(stack: TenantLifecycleStack): HandlerFunction[] {
  return [
    stack.identity!.tokenTrigger,
    ...Object.values(stack.api.routeFunctions),
    stack.planChange.taskFunction,
    stack.planChange.timeoutFunction,
    stack.planChange.sweeperFunction,
    stack.planChange.periodEndFunction,
    exportOf(stack).taskFunction,
    exportOf(stack).timeoutFunction,
    hardDeleteOf(stack).taskFunction,
    hardDeleteOf(stack).timeoutFunction,
    ...hardDeleteOf(stack).scheduleTargetFunctions.values(),
    reactivationOf(stack).taskFunction,
    reactivationOf(stack).timeoutFunction,
    stack.deletionSweeper.sweeperFunction,
    stack.events.publisher,
    ...[...stack.features.values()].flatMap((feature) => [...feature.targetFunctions.values()]),
    stack.billingReconciler.reconcileFunction,
  ];
}

/** The statements of `handler`'s role that name `bucket` (its ARN or its objects'). */
function bucketStatements(template: Template, stack: TenantLifecycleStack, handler: HandlerFunction, bucketRef: unknown): Statement[] {
  const needle = JSON.stringify(bucketRef);
  return statementsOfRole(template, logicalId(stack, handler.role)).filter((statement) => JSON.stringify(statement.Resource).includes(needle.slice(1, -1)));
}

function routeKeyOf(route: RouteDefinition): string {
  return route === FALLBACK_ROUTE ? '$default' : `${route.method} ${route.path}`;
}

afterAll(removeCdkOutdirs);

describe('Class: TenantLifecycleStack', () => {
  let stack: TenantLifecycleStack;
  let template: Template;
  let tableArn: unknown;

  beforeAll(() => {
    ({ stack, template } = synthesize());
    tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.table.table), 'Arn'] };
  });

  describe('Routes', () => {
    it('should route every entry of ROUTES and the $default fallback to its own function', () => {
      // Prepare
      const routes = resourcesOf<{ RouteKey: string; Target: unknown }>(template, 'AWS::ApiGatewayV2::Route');
      const integrations = Object.fromEntries(resourcesOf<{ IntegrationUri: unknown }>(template, 'AWS::ApiGatewayV2::Integration'));

      // Act
      const functionByRouteKey = Object.fromEntries(
        routes.map(([, route]) => {
          const integrationId = (route.Properties.Target as { 'Fn::Join': [string, [string, { Ref: string }]] })['Fn::Join'][1][1].Ref;
          return [route.Properties.RouteKey, integrations[integrationId]?.Properties.IntegrationUri];
        }),
      );

      // Assess
      expect(Object.keys(functionByRouteKey).sort()).toEqual(ALL_ROUTES.map(routeKeyOf).sort());
      for (const route of ALL_ROUTES) {
        const handler = stack.api.routeFunctions[route.id];
        expect(handler).toBeDefined();
        expect(functionByRouteKey[routeKeyOf(route)]).toEqual({ 'Fn::GetAtt': [logicalId(stack, handler!.function), 'Arn'] });
      }
    });
    // Which routes have the JWT authorizer, with which scopes: test/infra/api-identity.test.ts.
  });

  describe('Permissions', () => {
    it('should grant item writes on the table ARN only, never on an index or a wildcard', () => {
      // Prepare
      const statements = statementsOf(template);

      // Act
      const writes = statements.filter((statement) => asArray(statement.Action).some((action) => TABLE_WRITE_ACTIONS.includes(action)));

      // Assess
      const routeWrites = ALL_ROUTES.flatMap((route) => routeTableGrants(route)).filter((grant) => grant.actions.some((action) => TABLE_WRITE_ACTIONS.includes(`dynamodb:${action}`)));
      expect(writes.length).toBe(routeWrites.length + WORKFLOW_WRITERS);
      for (const statement of writes) expect(statement.Resource).toEqual(tableArn);
    });

    it("should grant no wildcard action, no wildcard resource outside the state machine roles but its own schedule group's schedules and the exports' and tenants' key prefixes, and no managed policy", () => {
      // Prepare: the state machine roles' logging and tracing wildcards are asserted in plan-change-workflow.test.ts
      const stateMachineRoleIds = [...stack.workflows.values()].map((workflow) => logicalId(stack, workflow.stateMachine.role));
      const statements = resourcesOf<PolicyProperties>(template, 'AWS::IAM::Policy')
        .filter(([, policy]) => !policy.Properties.Roles.some((role) => stateMachineRoleIds.includes(role.Ref)))
        .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
      const roles = resourcesOf<{ ManagedPolicyArns?: unknown[] }>(template, 'AWS::IAM::Role');
      const objects = (bucket: IConstruct, prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, bucket), 'Arn'] }, `/${prefix}*`]] });
      const allowed = [
        { resource: SCHEDULES_ARN, actions: SCHEDULE_ACTIONS },
        { resource: objects(stack.exports.bucket, 'exports/'), actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'] },
        // Read by the export's task, deleted by the hard delete's (each function's exact grant is asserted below).
        { resource: [objects(stack.documents.bucket, 'tenants/'), objects(stack.documents.bucket, 'vectors/')], actions: ['s3:GetObject', 's3:DeleteObject'] },
        // The hard delete's task: one statement (IAM merges the same action) for both buckets' tenant prefixes.
        { resource: [objects(stack.documents.bucket, 'tenants/'), objects(stack.documents.bucket, 'vectors/'), objects(stack.exports.bucket, 'exports/')], actions: ['s3:DeleteObject'] },
        // The events publisher's stream mapping: ListStreams has no resource-level permission (lifecycle-events.test.ts).
        { resource: '*', actions: ['dynamodb:ListStreams'] },
      ];

      // Act
      const wildcard = statements.filter((statement) => JSON.stringify(statement.Resource).includes('*'));

      // Assess: keys made at run time, each under its prefix, for that prefix's actions only
      expect(actionsOf(statements).filter((action) => action.includes('*'))).toEqual([]);
      expect(wildcard.length).toBeGreaterThan(0);
      for (const statement of wildcard) {
        const match = allowed.find(({ resource }) => JSON.stringify(resource) === JSON.stringify(statement.Resource));
        expect([statement.Resource, match !== undefined]).toEqual([statement.Resource, true]);
        for (const action of asArray(statement.Action)) expect(match!.actions).toContain(action);
      }
      for (const [, role] of roles) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    });

    it("should let ChangePlan, the soft delete, a legal hold's release, the plan-change sweeper and period-end function, the hard delete's task the dunning ladder (reconciliation, its timer) and the Stripe event processor schedule; the enforcement check and the deletion sweeper re-arm without deleting; the cancel routes and the compensations cancel only; and no other role touch schedules or pass a role", () => {
      // Prepare: the hard delete's task re-arms its own schedule (early firing, legal hold); its deadline target starts it and touches no schedule
      const schedulers = [
        stack.api.routeFunction(CHANGE_PLAN_ROUTE_ID),
        stack.api.routeFunction(INITIATE_DELETION_ROUTE_ID),
        stack.api.routeFunction(RELEASE_LEGAL_HOLD_ROUTE_ID),
        stack.planChange.sweeperFunction,
        stack.planChange.periodEndFunction,
        hardDeleteOf(stack).taskFunction,
        // The reactivation's task cancels a soft delete's schedules (Begin) and re-arms them when it fails.
        reactivationOf(stack).taskFunction,
        // The dunning ladder arms and cancels its timers: reconciliation (route and daily run) and the timer itself.
        stack.api.routeFunction(RECONCILE_BILLING_ROUTE_ID),
        stack.billingReconciler.reconcileFunction,
        ...(stack.features.get(DUNNING_FEATURE.name)?.targetFunctions.values() ?? []),
        // So does the Stripe event processor (the webhook's path; the partner bus's target in stripe-events.test.ts).
        stack.api.routeFunction(STRIPE_WEBHOOK_ROUTE_ID),
      ];
      // The reactivation's compensation (an execution that timed out or was aborted) re-arms what its Begin cancelled.
      const rearmers = [hardDeleteOf(stack).scheduleTargetFunction(ENFORCEMENT_TARGET), stack.deletionSweeper.sweeperFunction, reactivationOf(stack).timeoutFunction];
      const cancellers = [
        stack.api.routeFunction(CANCEL_SCHEDULED_PLAN_CHANGE_ROUTE_ID),
        stack.api.routeFunction(CANCEL_DELETION_ROUTE_ID),
        stack.planChange.taskFunction,
        stack.planChange.timeoutFunction,
        hardDeleteOf(stack).timeoutFunction,
      ];
      const schedulerRoleArn = { 'Fn::GetAtt': [logicalId(stack, stack.scheduler.role), 'Arn'] };

      for (const handler of allFunctions(stack)) {
        // Act
        const statements = statementsOfRole(template, logicalId(stack, handler.role));
        const schedule = statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('scheduler:')));
        const passRole = statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('iam:')));

        // Assess
        const expected = schedulers.includes(handler)
          ? SCHEDULE_ACTIONS
          : rearmers.includes(handler)
            ? SCHEDULE_ACTIONS.filter((action) => action !== 'scheduler:DeleteSchedule')
            : cancellers.includes(handler)
              ? ['scheduler:DeleteSchedule']
              : [];
        expect([handler.node.id, actionsOf(schedule).sort()]).toEqual([handler.node.id, expected]);
        for (const statement of schedule) expect(statement.Resource).toEqual(SCHEDULES_ARN);
        expect([handler.node.id, passRole]).toEqual([
          handler.node.id,
          schedulers.includes(handler) || rearmers.includes(handler) ? [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: schedulerRoleArn, Condition: PASSED_TO_SCHEDULER }] : [],
        ]);
      }
    });

    // Each route function's exact DynamoDB statements: test/infra/route-iam.test.ts.

    it('should let every function write its own log group only', () => {
      for (const handler of allFunctions(stack)) {
        // Act
        const logs = statementsOfRole(template, logicalId(stack, handler.role)).filter((statement) =>
          asArray(statement.Action).some((action) => action.startsWith('logs:')),
        );

        // Assess
        expect(logs).toEqual([
          { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logicalId(stack, handler.logGroup), 'Arn'] } },
        ]);
      }
    });
  });

  describe('Functions', () => {
    it.each(ALL_ROUTES.map((route) => [route.id, route] as const))('should give %s TABLE_NAME exactly when it uses the table', (_id, route) => {
      // Act
      const variables = variablesOf(template, logicalId(stack, stack.api.routeFunctions[route.id]!.function));

      // Assess
      if (!reachesTable(route)) expect(variables.TABLE_NAME).toBeUndefined();
      else expect(variables.TABLE_NAME).toEqual({ Ref: logicalId(stack, stack.table.table) });
    });

    it('should run every function on Node.js 24, ARM, 512 MB, with Powertools settings and its own log group; API functions 10 s', () => {
      // Workflow functions outlive their ASL Task timeouts, so States.Timeout (retried) fires first.
      const workflowTimeouts = new Map([
        [stack.planChange.taskFunction, 330],
        [stack.planChange.timeoutFunction, 150],
        [exportOf(stack).taskFunction, 900],
        [exportOf(stack).timeoutFunction, 150],
        [stack.planChange.sweeperFunction, 300],
        [stack.planChange.periodEndFunction, 60],
        [hardDeleteOf(stack).taskFunction, 900],
        [hardDeleteOf(stack).timeoutFunction, 150],
        ...[...hardDeleteOf(stack).scheduleTargetFunctions.values()].map((target) => [target, 60] as const),
        // The registry entry's taskTimeoutSeconds (its Purge Task's 840 s fit in it).
        [reactivationOf(stack).taskFunction, REACTIVATION_WORKFLOW.taskTimeoutSeconds],
        [reactivationOf(stack).timeoutFunction, 150],
        // A pass over every soft-deleted tenant (schedules checked 8 at a time).
        [stack.deletionSweeper.sweeperFunction, 600],
        // A stream batch of up to 100 audit items: 10 PutEvents calls, with the SDK's retries.
        [stack.events.publisher, 60],
        ...[...stack.features.values()].flatMap((feature) => [...feature.targetFunctions.values()].map((target) => [target, 60] as const)),
        // One Stripe read per billed tenant.
        [stack.billingReconciler.reconcileFunction, 900],
      ]);
      for (const handler of allFunctions(stack)) {
        // Act
        const properties = functionProperties(template, logicalId(stack, handler.function));

        // Assess
        expect(properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          MemorySize: 512,
          Timeout: workflowTimeouts.get(handler) ?? 10,
          Role: { 'Fn::GetAtt': [logicalId(stack, handler.role), 'Arn'] },
          LoggingConfig: { LogGroup: { Ref: logicalId(stack, handler.logGroup) } },
          Environment: {
            Variables: {
              POWERTOOLS_SERVICE_NAME: 'tenant-lifecycle',
              POWERTOOLS_METRICS_NAMESPACE: 'TenantLifecycle',
              POWERTOOLS_LOG_LEVEL: 'INFO',
              NODE_OPTIONS: '--enable-source-maps',
            },
          },
        });
      }
      template.resourceCountIs('AWS::Lambda::Function', allFunctions(stack).length);
    });

    it("should give no function a timeout above Lambda's maximum of 900 s", () => {
      // CloudFormation refuses a Timeout above 900 (Lambda quotas, "Function timeout"): the deploy would fail.
      const timeouts = resourcesOf<{ Timeout?: number; Description?: string }>(template, 'AWS::Lambda::Function').map(([id, fn]) => [id, fn.Properties.Timeout ?? 3] as const);
      expect(timeouts.length).toBeGreaterThan(0);
      expect(timeouts.filter(([, seconds]) => seconds > 900)).toEqual([]);
    });

    it('should keep function logs for one month', () => {
      for (const handler of allFunctions(stack)) {
        // Assess
        const logGroup = resources(template)[logicalId(stack, handler.logGroup)];
        expect(logGroup?.Properties.RetentionInDays).toBe(30);
      }
    });
  });

  describe('Stage', () => {
    it('should write JSON access logs with the request id, caller, route, status, latency and authorizer error', () => {
      // Act
      const [[, stage]] = resourcesOf<{ AccessLogSettings: { DestinationArn: unknown; Format: string } }>(template, 'AWS::ApiGatewayV2::Stage') as [
        [string, Resource & { Properties: { AccessLogSettings: { DestinationArn: unknown; Format: string } } }],
      ];

      // Assess
      expect(stage.Properties.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': [logicalId(stack, stack.api.accessLogs), 'Arn'] });
      expect(JSON.parse(stage.Properties.AccessLogSettings.Format)).toMatchObject({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latency: '$context.responseLatency',
        authorizerError: '$context.authorizer.error',
        // Who called: the verified token's subject and (Cognito) app client.
        subject: '$context.authorizer.claims.sub',
        clientId: '$context.authorizer.claims.client_id',
      });
    });

    it('should be the auto-deployed $default stage, throttled to 50 requests/s with bursts of 100', () => {
      // Assess
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
    });
  });

  describe('Stripe key', () => {
    const STRIPE_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-key-AbCdEf';

    it('should give exactly the billing callers the secret ARN and read access to that secret, and nobody else', () => {
      // Act
      const { stack: withStripe, template: withStripeTemplate } = synthesize({ stripeSecretArn: STRIPE_SECRET });
      const callers = new Set([
        // Creating a tenant creates (or checks the linked) Stripe customer and subscription.
        withStripe.api.routeFunction(CREATE_TENANT_ROUTE_ID),
        withStripe.api.routeFunction(CHANGE_PLAN_ROUTE_ID),
        withStripe.api.routeFunction(CANCEL_SCHEDULED_PLAN_CHANGE_ROUTE_ID),
        // The soft delete cancels the subscription, its cancellation restores it.
        withStripe.api.routeFunction(INITIATE_DELETION_ROUTE_ID),
        withStripe.api.routeFunction(CANCEL_DELETION_ROUTE_ID),
        // The Stripe event processor reads the subscription's current status (the webhook's path; EventBridge's in stripe-events.test.ts).
        withStripe.api.routeFunction(STRIPE_WEBHOOK_ROUTE_ID),
        withStripe.planChange.taskFunction,
        withStripe.planChange.timeoutFunction,
        withStripe.planChange.sweeperFunction,
        withStripe.planChange.periodEndFunction,
        // The export lists the tenant's invoices (billing history); its clean-up bills nothing.
        exportOf(withStripe).taskFunction,
        // The hard delete counts the invoices it keeps and deletes the customer; its compensation bills nothing.
        hardDeleteOf(withStripe).taskFunction,
        // The reactivation bills again (a new subscription, or customer and subscription), and its compensation
        // cancels what it made; its route only starts the execution.
        reactivationOf(withStripe).taskFunction,
        reactivationOf(withStripe).timeoutFunction,
        // The dunning ladder reads the subscription's status: reconciliation (route and daily run) and its timer
        // (which may also soft-delete, cancelling the subscription).
        withStripe.api.routeFunction(RECONCILE_BILLING_ROUTE_ID),
        withStripe.billingReconciler.reconcileFunction,
        ...(withStripe.features.get(DUNNING_FEATURE.name)?.targetFunctions.values() ?? []),
      ]);

      // Assess
      for (const handler of allFunctions(withStripe)) {
        const variables = variablesOf(withStripeTemplate, logicalId(withStripe, handler.function));
        expect([handler.node.id, variables.STRIPE_SECRET_ARN]).toEqual([handler.node.id, callers.has(handler) ? STRIPE_SECRET : undefined]);
      }
      const readers = Object.values(withStripeTemplate.findResources('AWS::IAM::Policy')).filter((policy) =>
        JSON.stringify(policy).includes(STRIPE_SECRET.slice(0, -7)),
      );
      expect(readers).toHaveLength(callers.size);
      expect(callers.size).toBe(17);
      expect(callers.has(withStripe.api.routeFunction(REACTIVATE_TENANT_ROUTE_ID))).toBe(false);
    });

    it('should refuse a context value that is not a secret ARN', () => {
      expect(() => synthesize({ stripeSecretArn: 'sk_live_oops' })).toThrow('stripeSecretArn');
    });

    it('should leave Stripe out without the context value', () => {
      for (const handler of allFunctions(stack)) {
        const variables = variablesOf(template, logicalId(stack, handler.function));
        expect(variables.STRIPE_SECRET_ARN).toBeUndefined();
      }
    });
  });

  describe('Pinecone key', () => {
    const PINECONE_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone-key-AbCdEf';

    it("should give exactly the workflow's provisioning functions the secret, region and dimension, and read access to that secret", () => {
      // Act
      const { stack: withPinecone, template: withPineconeTemplate } = synthesize({ pineconeSecretArn: PINECONE_SECRET, pineconeRegion: 'eu-west-1', pineconeDimension: '768' });
      // The export's task reads the tenant's vectors and the hard delete's deletes them; their clean-ups do not.
      const provisioners = new Set([
        withPinecone.planChange.taskFunction,
        withPinecone.planChange.timeoutFunction,
        withPinecone.planChange.sweeperFunction,
        exportOf(withPinecone).taskFunction,
        hardDeleteOf(withPinecone).taskFunction,
        // The reactivation provisions the plan's placement and a fresh start deletes the old vectors; its
        // compensation releases what it provisioned.
        reactivationOf(withPinecone).taskFunction,
        reactivationOf(withPinecone).timeoutFunction,
      ]);

      // Assess
      for (const handler of allFunctions(withPinecone)) {
        const variables = variablesOf(withPineconeTemplate, logicalId(withPinecone, handler.function));
        const expected = provisioners.has(handler) ? [PINECONE_SECRET, 'eu-west-1', '768'] : [undefined, undefined, undefined];
        expect([handler.node.id, variables.PINECONE_SECRET_ARN, variables.PINECONE_REGION, variables.PINECONE_DIMENSION]).toEqual([handler.node.id, ...expected]);
        expect(variables.PINECONE_API_KEY).toBeUndefined(); // never the key itself
      }
      const readers = Object.values(withPineconeTemplate.findResources('AWS::IAM::Policy')).filter((policy) => JSON.stringify(policy).includes(PINECONE_SECRET.slice(0, -7)));
      expect(readers).toHaveLength(provisioners.size);
    });

    it('should give the Pinecone key only to functions whose handler loads the Pinecone SDK (workflow-deps.ts)', () => {
      // Act
      const { stack: withPinecone, template: withPineconeTemplate } = synthesize({ pineconeSecretArn: PINECONE_SECRET, pineconeRegion: 'eu-west-1' });
      const given = allFunctions(withPinecone).filter(
        (handler) => variablesOf(withPineconeTemplate, logicalId(withPinecone, handler.function)).PINECONE_SECRET_ARN !== undefined,
      );

      // Assess: any other function given the key would throw a ConfigurationError at its first provisioning
      expect(given.length).toBeGreaterThan(0);
      for (const handler of given) {
        const source = readFileSync(path.join(REPO_ROOT, handler.entry), 'utf8');
        expect([handler.entry, /from '\.\.\/workflow-deps'/.test(source)]).toEqual([handler.entry, true]);
      }
    });

    it('should refuse a Pinecone secret without a region, or with a bad dimension', () => {
      expect(() => synthesize({ pineconeSecretArn: PINECONE_SECRET })).toThrow('pineconeRegion is required');
      expect(() => synthesize({ pineconeSecretArn: PINECONE_SECRET, pineconeRegion: 'us-east-1', pineconeDimension: 'wide' })).toThrow('pineconeDimension');
      expect(() => synthesize({ pineconeSecretArn: 'pcsk_oops', pineconeRegion: 'us-east-1' })).toThrow('pineconeSecretArn');
    });
  });

  describe('Export workflow: buckets', () => {
    const bucketArn = (target: TenantLifecycleStack, bucket: IConstruct) => ({ 'Fn::GetAtt': [logicalId(target, bucket), 'Arn'] });
    const objectsOf = (arn: unknown, prefix: string) => ({ 'Fn::Join': ['', [arn, `/${prefix}*`]] });
    const listing = (arn: unknown, ...prefixes: string[]) => ({ Effect: 'Allow', Action: 's3:ListBucket', Resource: arn, Condition: { StringLike: { 's3:prefix': prefixes } } });

    it("should let the export task write, read back, list and delete under the export bucket's exports/ only", () => {
      const exportsArn = bucketArn(stack, stack.exports.bucket);
      expect(bucketStatements(template, stack, exportOf(stack).taskFunction, exportsArn)).toEqual([
        { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'], Resource: objectsOf(exportsArn, 'exports/') },
        listing(exportsArn, 'exports/*'),
      ]);
    });

    it("should let the export task read the documents bucket's tenants/ (documents) and vectors/ (the local vector store, no Pinecone) only", () => {
      const documentsArn = bucketArn(stack, stack.documents.bucket);
      expect(bucketStatements(template, stack, exportOf(stack).taskFunction, documentsArn)).toEqual([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: [objectsOf(documentsArn, 'tenants/'), objectsOf(documentsArn, 'vectors/')] },
        listing(documentsArn, 'tenants/*', 'vectors/*'),
      ]);
    });

    it.each([
      ['the hard delete', hardDeleteOf],
      ['the reactivation (a fresh start purges first)', reactivationOf],
    ] as const)("should let %s's task list and delete, not read, the documents bucket's tenants/ and vectors/ and the export bucket's exports/ only (a tenant's exports are copies of its data)", (_name, workflowOf) => {
      const documentsArn = bucketArn(stack, stack.documents.bucket);
      const exportsArn = bucketArn(stack, stack.exports.bucket);
      const deletes = { Effect: 'Allow', Action: 's3:DeleteObject', Resource: [objectsOf(documentsArn, 'tenants/'), objectsOf(documentsArn, 'vectors/'), objectsOf(exportsArn, 'exports/')] };
      expect(bucketStatements(template, stack, workflowOf(stack).taskFunction, documentsArn)).toEqual([deletes, listing(documentsArn, 'tenants/*', 'vectors/*')]);
      expect(bucketStatements(template, stack, workflowOf(stack).taskFunction, exportsArn)).toEqual([deletes, listing(exportsArn, 'exports/*')]);
    });

    it("should let the failed export's clean-up (the export's timeout function and the sweeper) list and delete under exports/ only", () => {
      const exportsArn = bucketArn(stack, stack.exports.bucket);
      for (const handler of [exportOf(stack).timeoutFunction, stack.sweeper.sweeperFunction]) {
        expect([handler.node.path, bucketStatements(template, stack, handler, exportsArn)]).toEqual([
          handler.node.path,
          [{ Effect: 'Allow', Action: 's3:DeleteObject', Resource: objectsOf(exportsArn, 'exports/') }, listing(exportsArn, 'exports/*')],
        ]);
        expect(bucketStatements(template, stack, handler, bucketArn(stack, stack.documents.bucket))).toEqual([]);
      }
    });

    it('should give no other function access to the export bucket or the documents bucket, and their names only to the functions that use them', () => {
      // The workflow's functions, and the route that presigns downloads (its grant: test/infra/export-routes.test.ts).
      // The hard delete's task purges the tenant's exports too.
      // So does the reactivation's task, for a fresh start from deleting.
      const exporters = new Set<HandlerFunction>([exportOf(stack).taskFunction, exportOf(stack).timeoutFunction, stack.sweeper.sweeperFunction, stack.api.routeFunction(GET_EXPORT_ROUTE_ID), hardDeleteOf(stack).taskFunction, reactivationOf(stack).taskFunction]);
      // The hard delete's and the reactivation's tasks purge the documents bucket (their grants: the tests above).
      const documentUsers = new Set<HandlerFunction>([exportOf(stack).taskFunction, hardDeleteOf(stack).taskFunction, reactivationOf(stack).taskFunction]);
      for (const handler of allFunctions(stack)) {
        const variables = variablesOf(template, logicalId(stack, handler.function));
        expect([handler.node.path, variables.EXPORTS_BUCKET, variables.DOCUMENTS_BUCKET]).toEqual([
          handler.node.path,
          exporters.has(handler) ? { Ref: logicalId(stack, stack.exports.bucket) } : undefined,
          documentUsers.has(handler) ? { Ref: logicalId(stack, stack.documents.bucket) } : undefined,
        ]);
        if (exporters.has(handler) || documentUsers.has(handler)) continue;
        const statements = JSON.stringify(statementsOfRole(template, logicalId(stack, handler.role)));
        expect([handler.node.path, statements.includes(logicalId(stack, stack.exports.bucket)), statements.includes(logicalId(stack, stack.documents.bucket))]).toEqual([
          handler.node.path,
          false,
          false,
        ]);
      }
      // And no bucket policy or role outside the functions names them (the buckets' own TLS-only policies aside).
      const mentioning = resourcesOf<PolicyProperties>(template, 'AWS::IAM::Policy').filter(([, policy]) =>
        [stack.exports.bucket, stack.documents.bucket].some((bucket) => JSON.stringify(policy).includes(logicalId(stack, bucket))),
      );
      expect(mentioning).toHaveLength(new Set([...exporters, ...documentUsers]).size);
    });

    it('should read vectors from Pinecone, not the documents bucket, when Pinecone is configured', () => {
      const { stack: withPinecone, template: withPineconeTemplate } = synthesize({
        pineconeSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone-key-AbCdEf',
        pineconeRegion: 'us-east-1',
      });
      const documentsArn = bucketArn(withPinecone, withPinecone.documents.bucket);
      expect(bucketStatements(withPineconeTemplate, withPinecone, exportOf(withPinecone).taskFunction, documentsArn)).toEqual([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: objectsOf(documentsArn, 'tenants/') },
        listing(documentsArn, 'tenants/*'),
      ]);
    });

    it("should create a hardened documents bucket without documentsBucketName, and use the application's own bucket by name with it", () => {
      // Created: encrypted, public access blocked, access-logged (TLS only is asserted by cdk-nag's S10)
      const created = resources(template)[logicalId(stack, stack.documents.bucket)];
      expect(created?.Properties).toMatchObject({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(stack, stack.exports.accessLogs) }, LogFilePrefix: 'documents-bucket/' },
      });
      expect(created?.DeletionPolicy).toBe('Retain');
      template.hasOutput('DocumentsBucketName', { Value: { Ref: logicalId(stack, stack.documents.bucket) } });

      // Given: no bucket made, the grant names that bucket's ARN, and its name is what the task reads
      const { stack: given, template: givenTemplate } = synthesize({ documentsBucketName: 'acme-app-documents' });
      expect(resourcesOf(givenTemplate, 'AWS::S3::Bucket')).toHaveLength(resourcesOf(template, 'AWS::S3::Bucket').length - 1);
      const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-app-documents']] };
      const task = exportOf(given).taskFunction;
      const statements = statementsOfRole(givenTemplate, logicalId(given, task.role)).filter((statement) => JSON.stringify(statement).includes('acme-app-documents'));
      expect(statements).toEqual([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-app-documents/tenants/*']] }, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-app-documents/vectors/*']] }] },
        listing(arn, 'tenants/*', 'vectors/*'),
      ]);
      expect(variablesOf(givenTemplate, logicalId(given, task.function)).DOCUMENTS_BUCKET).toBe('acme-app-documents');
      givenTemplate.hasOutput('DocumentsBucketName', { Value: 'acme-app-documents' });
    });

    it('should refuse a documentsBucketName that is not a bucket name', () => {
      expect(() => synthesize({ documentsBucketName: 'Not_A_Bucket' })).toThrow("documentsBucketName must be an S3 bucket name (3-63 lowercase letters, digits and hyphens), got 'Not_A_Bucket'.");
    });
  });

  describe('Outputs', () => {
    it('should output the API URL and the table name (the identity outputs: api-identity.test.ts)', () => {
      // Assess
      template.hasOutput('ApiUrl', {});
      template.hasOutput('TableName', { Value: { Ref: logicalId(stack, stack.table.table) } });
    });

    it('should output the plan-change state machine ARN and its dead-letter queue', () => {
      // Assess
      template.hasOutput('PlanChangeStateMachineArn', { Value: { Ref: logicalId(stack, stack.planChange.stateMachine) } });
      template.hasOutput('PlanChangeDeadLetterQueueUrl', { Value: { Ref: logicalId(stack, stack.planChange.deadLetterQueue) } });
    });

    it("should output the one-shot schedules' dead-letter queue", () => {
      // Assess
      template.hasOutput('ScheduleDeadLetterQueueUrl', { Value: { Ref: logicalId(stack, stack.scheduler.deadLetterQueue) } });
    });

    it('should output the export bucket', () => {
      // Assess
      template.hasOutput('ExportBucketName', { Value: { Ref: logicalId(stack, stack.exports.bucket) } });
    });
  });

  describe('Context', () => {
    it('should retain the table, logs, user pool, webhook secret and dead-letter queue by default', () => {
      // Assess
      for (const type of ['AWS::DynamoDB::Table', 'AWS::Logs::LogGroup', 'AWS::Cognito::UserPool', 'AWS::SecretsManager::Secret', 'AWS::SQS::Queue']) {
        for (const [, resource] of resourcesOf(template, type)) expect(resource.DeletionPolicy).toBe('Retain');
      }
      template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    });

    it("should delete everything, without deletion protection, when removalPolicy is 'destroy'", () => {
      // Act
      const { template: destroyable } = synthesize({ removalPolicy: 'destroy' });

      // Assess
      for (const type of ['AWS::DynamoDB::Table', 'AWS::Logs::LogGroup', 'AWS::Cognito::UserPool', 'AWS::SecretsManager::Secret', 'AWS::SQS::Queue']) {
        for (const [, resource] of resourcesOf(destroyable, type)) expect(resource.DeletionPolicy).toBe('Delete');
      }
      destroyable.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    });

    it('should refuse an unknown removal policy', () => {
      // Act & Assess
      expect(() => synthesize({ removalPolicy: 'snapshot' })).toThrow(/removalPolicy must be 'retain' or 'destroy'/);
    });

    it("should pass Stripe price ids to the route and plan-change functions, not to the user pool's token trigger", () => {
      // Act
      const { stack: priced, template: pricedTemplate } = synthesize({ stripePriceIds: '{"starter":"price_starter","enterprise":"price_ent"}' });

      // Assess
      const createTenant = functionProperties(pricedTemplate, logicalId(priced, priced.api.routeFunctions[CREATE_TENANT_ROUTE_ID]!.function));
      expect(createTenant.Environment.Variables).toMatchObject({ STRIPE_PRICE_STARTER: 'price_starter', STRIPE_PRICE_ENTERPRISE: 'price_ent' });
      expect(createTenant.Environment.Variables.STRIPE_PRICE_PROFESSIONAL).toBeUndefined();
      for (const handler of [priced.planChange.taskFunction, priced.planChange.timeoutFunction]) {
        const variables = variablesOf(pricedTemplate, logicalId(priced, handler.function));
        expect(variables).toMatchObject({ STRIPE_PRICE_STARTER: 'price_starter', STRIPE_PRICE_ENTERPRISE: 'price_ent' });
      }
      const trigger = functionProperties(pricedTemplate, logicalId(priced, priced.identity!.tokenTrigger.function));
      expect(trigger.Environment.Variables.STRIPE_PRICE_STARTER).toBeUndefined();
    });

    it.each([
      ['a JSON array', '["price_starter"]', 'must be a JSON object of plan id to Stripe price id'],
      ['an unknown plan', '{"platinum":"price_p"}', "'platinum' must be a plan id with a string price id"],
      ['a price id that is not a string', '{"starter":42}', "'starter' must be a plan id with a string price id"],
    ])('should refuse stripePriceIds given as %s, naming what to fix', (_, value, message) => {
      expect(() => synthesize({ stripePriceIds: value })).toThrow(message);
    });

    it('should take stripePriceIds given as an object (cdk.json) as well as a JSON string (-c)', () => {
      const { stack: priced, template: pricedTemplate } = synthesize({ stripePriceIds: { professional: 'price_pro' } });
      expect(variablesOf(pricedTemplate, logicalId(priced, priced.planChange.taskFunction.function))).toMatchObject({ STRIPE_PRICE_PROFESSIONAL: 'price_pro' });
    });
  });
});
