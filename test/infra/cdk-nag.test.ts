import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { buildApp, type LifecycleApp } from '../../infra/app';
import { cdkOutdir, removeCdkOutdirs, synthContext, validationFindings } from '../support/cdk-template';

/**
 * Where a user can deploy: what the CDK CLI passes the app (CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION, from the
 * credentials and the configured region; none of them for an environment-agnostic stack). A concrete region
 * resolves `<AWS::Region>` (and, where the region's partition is known, `<AWS::Partition>`) in cdk-nag's finding
 * ids, so an acknowledgement must match in each.
 */
const TRUSTED_ISSUER = { jwtIssuer: 'https://login.example.cn/', jwtAudience: 'tenant-lifecycle-api' };

/** `context`: what every synthesis there needs (no Cognito user pools in the China regions: a trusted issuer). */
const ENVIRONMENTS: readonly { name: string; variables: Record<string, string>; context?: Record<string, unknown> }[] = [
  { name: 'environment-agnostic', variables: {} },
  { name: 'account 123456789012, eu-west-1', variables: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' } },
  { name: 'account 123456789012, us-east-1 (the CLI default)', variables: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'us-east-1' } },
  // The CLI without credentials it can resolve an account from: the region alone.
  { name: 'ap-southeast-2, no account', variables: { CDK_DEFAULT_REGION: 'ap-southeast-2' } },
  // Another partition: `<AWS::Partition>` becomes `aws-cn` under the partition-literals flag. No Cognito user pools there.
  { name: 'account 123456789012, cn-north-1', variables: { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'cn-north-1' }, context: TRUSTED_ISSUER },
];

/** The context flags README documents, each as `-c key=value` gives it. */
const CONTEXTS: readonly { name: string; context: Record<string, unknown> }[] = [
  { name: 'default context', context: {} },
  { name: '-c removalPolicy=destroy', context: { removalPolicy: 'destroy' } },
  {
    name: 'Stripe and Pinecone secrets',
    context: {
      stripeSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-key-AbCdEf',
      pineconeSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinecone-key-AbCdEf',
      pineconeRegion: 'us-east-1',
      stripePriceIds: '{"professional":"price_123"}',
    },
  },
  // The application's own documents bucket, by name (its grants name that bucket's ARN, not a resource of the stack).
  { name: '-c documentsBucketName=acme-app-documents', context: { documentsBucketName: 'acme-app-documents' } },
  {
    name: 'documents bucket, Stripe and Pinecone with partition literals',
    context: {
      documentsBucketName: 'acme-app-documents',
      stripeSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-key-AbCdEf',
      pineconeSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinecone-key-AbCdEf',
      pineconeRegion: 'us-east-1',
      '@aws-cdk/core:enablePartitionLiterals': true,
    },
  },
  // Stripe events through EventBridge: the partner event bus, its rule, the processor function and its dead-letter queue.
  { name: '-c stripeEventSource=aws.partner/stripe.com/...', context: { stripeEventSource: 'aws.partner/stripe.com/ed_test_61RgTestDestination', stripeSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-key-AbCdEf' } },
  // An existing identity provider instead of the stack's own Cognito user pool (no pool, clients, domain or trigger).
  { name: '-c jwtIssuer=https://acme.eu.auth0.com/ -c jwtAudience=...', context: { jwtIssuer: 'https://acme.eu.auth0.com/', jwtAudience: 'https://api.acme.example', jwtTenantClaim: 'https://acme.example/tenant' } },
  // The stack's own user pool, removable with the stack (no deletion protection) and with its own domain and callbacks.
  { name: 'user pool with -c cognitoDomainPrefix and -c operatorCallbackUrls', context: { removalPolicy: 'destroy', cognitoDomainPrefix: 'acme-ops', operatorCallbackUrls: 'https://ops.acme.example/callback' } },
  // A flag `cdk init` turns on in new projects: with a concrete region the partition is a literal too.
  { name: 'partition literals (@aws-cdk/core:enablePartitionLiterals)', context: { '@aws-cdk/core:enablePartitionLiterals': true } },
];

/** The app as the CLI builds it, with its AwsSolutions checks (buildApp's default). */
function newApp(variables: Record<string, string> = {}, context: Record<string, unknown> = {}): LifecycleApp {
  return buildApp({ outdir: cdkOutdir('nag'), context: synthContext(context), variables });
}

afterAll(removeCdkOutdirs);

describe('Class: TenantLifecycleStack', () => {
  describe('cdk-nag AwsSolutionsChecks', () => {
    describe.each(ENVIRONMENTS)('in $name', ({ variables, context: environmentContext }) => {
      // The user pool's own settings do not apply where the environment trusts another issuer.
      const contexts = environmentContext ? CONTEXTS.filter(({ context }) => !('cognitoDomainPrefix' in context) && !('jwtIssuer' in context)) : CONTEXTS;
      it.each(contexts)('should synthesize with $name and no unacknowledged error or warning', ({ context }) => {
        // Prepare
        const lifecycleApp = newApp(variables, { ...environmentContext, ...context });

        // Act
        const { findings, synthError } = validationFindings(lifecycleApp.app);

        // Assess
        expect(findings).toEqual([]);
        expect(synthError).toBeUndefined();
      });
    });

    it('should report a finding nobody acknowledged (the check is live)', () => {
      // Prepare: a secret without rotation and without an acknowledgement
      const lifecycleApp = newApp();
      new Secret(lifecycleApp.stack, 'UnrotatedSecret');

      // Act
      const { findings, synthError } = validationFindings(lifecycleApp.app);

      // Assess
      expect(findings).toEqual([
        { plugin: 'AwsSolutions', rule: 'AwsSolutions-SMG4', severity: 'error', constructs: ['TenantLifecycle/UnrotatedSecret/Resource'] },
      ]);
      expect(synthError).toMatch(/AwsSolutions-SMG4/);
    });
  });
});
