/**
 * What a user gets who builds the stack in their own CDK app (no context, props left out), and what the app
 * refuses in its context before it builds anything: a mistake in cdk.json or `-c` must say what to fix.
 */
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { cdkOutdir, logicalId, removeCdkOutdirs, resourcesOf, synthContext, variablesOf } from '../support/cdk-template';

afterAll(removeCdkOutdirs);

function embedded(props?: ConstructorParameters<typeof TenantLifecycleStack>[2]): Template {
  const app = new App({ outdir: cdkOutdir('embedded'), context: synthContext() });
  return Template.fromStack(new TenantLifecycleStack(app, 'Embedded', props));
}

describe('TenantLifecycleStack built directly, in a user\'s own app', () => {
  it('should keep everything, the table deletion-protected, when no props are given', () => {
    const template = embedded();
    for (const type of ['AWS::DynamoDB::Table', 'AWS::Logs::LogGroup', 'AWS::SecretsManager::Secret', 'AWS::SQS::Queue']) {
      const found = resourcesOf(template, type);
      expect(found.length).toBeGreaterThan(0);
      for (const [, resource] of found) expect(resource.DeletionPolicy).toBe('Retain');
    }
    template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
  });

  it('should drop deletion protection with RemovalPolicy.DESTROY unless it is asked for, and honour an explicit choice', () => {
    embedded({ removalPolicy: RemovalPolicy.DESTROY }).hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    embedded({ removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true }).hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    embedded({ removalPolicy: RemovalPolicy.RETAIN, deletionProtection: false }).hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
  });
});

describe('App context: stripePriceIds', () => {
  const build = (stripePriceIds: unknown) => buildApp({ outdir: cdkOutdir('context'), nag: false, context: synthContext({ stripePriceIds }) });

  it('should take a JSON object as cdk.json holds it, as well as the string -c passes', () => {
    const { stack } = build({ starter: 'price_starter' });
    const variables = variablesOf(Template.fromStack(stack), logicalId(stack, stack.planChange.taskFunction.function));
    expect(variables).toMatchObject({ STRIPE_PRICE_STARTER: 'price_starter' });
  });

  it.each<[string, unknown, RegExp]>([
    ['a JSON array', '["price_starter"]', /Context stripePriceIds must be a JSON object of plan id to Stripe price id\./],
    ['null', 'null', /Context stripePriceIds must be a JSON object of plan id to Stripe price id\./],
    ['an unknown plan', '{"gold":"price_gold"}', /Context stripePriceIds: 'gold' must be a plan id with a string price id\./],
    ['a price id that is not a string', { starter: 42 }, /Context stripePriceIds: 'starter' must be a plan id with a string price id\./],
  ])('should refuse %s, saying what it must be', (_case, value, message) => {
    expect(() => build(value)).toThrow(message);
  });
});
