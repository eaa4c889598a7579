/**
 * The two paths of Stripe events in the synthesized stack: POST /webhooks/stripe (public at API Gateway, verified
 * by its handler, the signing secret readable by that function only) and, with `-c stripeEventSource=...`, the
 * partner event bus, its rule and the processor function with retries and a dead-letter queue (nothing of it
 * without the context value).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { ROUTES, defineRoute, type RouteDefinition } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import { STRIPE_EVENTBRIDGE_ENTRY } from '../../infra/constructs/stripe-events';
import { STRIPE_WEBHOOK_ROUTE_ID } from '../../infra/tenant-lifecycle-stack';
import { cdkOutdir, logicalId, removeCdkOutdirs, resourcesOf, statementsOfRole, synthContext, variablesOf, type Statement } from '../support/cdk-template';

const EVENT_SOURCE = 'aws.partner/stripe.com/ed_test_61RgTestDestination';
const STRIPE_KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-key-AbCdEf';

function synth(context: Record<string, unknown> = {}) {
  const { stack } = buildApp({ outdir: cdkOutdir('stripe-events'), context: synthContext(context), nag: false, variables: {} });
  return { stack, template: Template.fromStack(stack) };
}

afterAll(removeCdkOutdirs);

const granted = (statements: readonly Statement[], action: string) => statements.filter((statement) => [statement.Action].flat().includes(action));

describe('POST /webhooks/stripe in the stack', () => {
  const { stack, template } = synth();
  const webhook = stack.api.routeFunction(STRIPE_WEBHOOK_ROUTE_ID);

  it('is a route without the token authorizer', () => {
    const route = resourcesOf<Record<string, unknown>>(template, 'AWS::ApiGatewayV2::Route').find(([, candidate]) => candidate.Properties.RouteKey === 'POST /webhooks/stripe')?.[1];
    expect(route?.Properties.AuthorizationType).toBe('NONE');
    expect(route?.Properties.AuthorizerId).toBeUndefined();
  });

  it('gives the webhook function, and no other, the signing secret to read by its ARN, and write access to the table', () => {
    const secretId = logicalId(stack, stack.api.stripeWebhookSecret);
    expect(variablesOf(template, logicalId(stack, webhook.function)).STRIPE_WEBHOOK_SECRET_ARN).toEqual({ Ref: secretId });
    const readers = resourcesOf<{ PolicyDocument: unknown }>(template, 'AWS::IAM::Policy').filter(([, policy]) => JSON.stringify(policy.Properties.PolicyDocument).includes(`"Ref":"${secretId}"`));
    expect(readers).toHaveLength(1);
    const statements = statementsOfRole(template, logicalId(stack, webhook.role));
    expect(granted(statements, 'secretsmanager:GetSecretValue')).toHaveLength(1);
    expect(granted(statements, 'dynamodb:UpdateItem')).not.toHaveLength(0);
  });

  it('outputs the signing secret for the operator to fill', () => {
    template.hasOutput('StripeWebhookSecretArn', { Value: { Ref: logicalId(stack, stack.api.stripeWebhookSecret) } });
  });

  it('still refuses, at synthesis, a public route that reaches the table without a verification of its own', () => {
    const unverified = defineRoute({ id: 'LeakyPublic', method: 'GET', path: '/leaky', entry: 'functions/api/health.ts', access: 'public', table: [{ actions: ['GetItem'], leadingKeys: ['TENANT#*'] }], summary: 'Leaks.' });
    (ROUTES as RouteDefinition[]).push(unverified);
    try {
      expect(() => synth()).toThrow(/LeakyPublic is unauthenticated but has a table grant/);
    } finally {
      (ROUTES as RouteDefinition[]).pop();
    }
  });
});

describe('-c stripeEventSource', () => {
  it('creates nothing of the EventBridge path without it', () => {
    const { stack, template } = synth();
    expect(stack.stripeEvents).toBeUndefined();
    // The stack's own lifecycle-events bus is there; no partner bus.
    expect(Object.values(template.findResources('AWS::Events::EventBus')).filter((bus) => (bus as { Properties?: { EventSourceName?: string } }).Properties?.EventSourceName)).toEqual([]);
    expect(resourcesOf<{ Description?: string }>(template, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.Description)).not.toContainEqual(expect.stringContaining('partner event bus'));
    expect(template.findOutputs('StripeEventsDeadLetterQueueUrl')).toEqual({});
  });

  it('refuses a value that is not a Stripe partner event source', () => {
    expect(() => synth({ stripeEventSource: 'aws.partner/example.com/abc' })).toThrow(/stripeEventSource must be the partner event source Stripe created/);
  });

  describe('with a Stripe partner event source', () => {
    const { stack, template } = synth({ stripeEventSource: EVENT_SOURCE, stripeSecretArn: STRIPE_KEY_ARN });
    const events = stack.stripeEvents!;
    const fnId = logicalId(stack, events.processorFunction.function);
    const queueArn = { 'Fn::GetAtt': [logicalId(stack, events.deadLetterQueue), 'Arn'] };

    it('creates the partner event bus named after the event source', () => {
      expect(Object.keys(template.findResources('AWS::Events::EventBus', { Properties: { EventSourceName: EVENT_SOURCE } }))).toHaveLength(1);
      template.hasResourceProperties('AWS::Events::EventBus', { Name: EVENT_SOURCE, EventSourceName: EVENT_SOURCE });
    });

    it('has a rule on that bus matching the Stripe source prefix, targeting the processor with retries and the dead-letter queue', () => {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: logicalId(stack, events.eventBus) },
        EventPattern: { source: [{ prefix: 'aws.partner/stripe.com/' }] },
        Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 }, DeadLetterConfig: { Arn: queueArn } }],
      });
    });

    it('sends a failed invocation, after Lambda\'s two retries, to the same queue, and alarms on it', () => {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fnId },
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: queueArn } },
      });
      template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Threshold: 0,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, events.deadLetterQueue), 'QueueName'] } }],
      });
    });

    it('deploys the EventBridge handler with the table and, like the webhook, the Stripe key to read subscriptions', () => {
      expect(events.processorFunction.entry).toBe(STRIPE_EVENTBRIDGE_ENTRY);
      expect(variablesOf(template, fnId)).toMatchObject({ TABLE_NAME: expect.anything(), STRIPE_SECRET_ARN: STRIPE_KEY_ARN });
      expect(variablesOf(template, logicalId(stack, stack.api.routeFunction(STRIPE_WEBHOOK_ROUTE_ID).function))).toMatchObject({ STRIPE_SECRET_ARN: STRIPE_KEY_ARN });
    });
  });
});
