/**
 * The CDK app: one stack, `TenantLifecycle`, checked by cdk-nag's AWS Solutions pack at synthesis.
 *
 * Context:
 *   removalPolicy   'retain' (default) or 'destroy': what happens to the table, logs and token key on delete.
 *   stripePriceIds  JSON object of plan id to Stripe price id, e.g. '{"starter":"price_123"}'.
 *   stripeSecretArn full ARN of a Secrets Manager secret holding the Stripe secret key (else: local ledger).
 *   exportRetentionDays days a GDPR export is kept before the export bucket's lifecycle deletes it (default 30).
 *   documentsBucketName the application's documents bucket (tenants/<tenantId>/...), read by exports (else: the
 *                   stack creates one and outputs its name).
 *   pineconeSecretArn full ARN of a Secrets Manager secret holding the Pinecone API key (else: local provisioner),
 *                   with pineconeRegion (required with it) and pineconeDimension (default 1536).
 *   stripeEventSource the partner event source of a Stripe event destination (aws.partner/stripe.com/...): the stack
 *                   creates its event bus and a rule to the Stripe event processor (else: the webhook only).
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { isPlanId, type StripePriceIds } from '../functions/plans/plan-catalog';
import { STRIPE_EVENT_SOURCE_PATTERN } from './constructs/stripe-events';
import { TenantLifecycleStack } from './tenant-lifecycle-stack';

export const STACK_NAME = 'TenantLifecycle';

export interface BuildAppOptions {
  /**
   * Where the cloud assembly is written.
   * @default - the CLI's choice (CDK_OUTDIR), else a temporary directory
   */
  readonly outdir?: string;
  /**
   * Context values, as `-c key=value` would give them.
   * @default - none beyond the CLI's
   */
  readonly context?: Record<string, unknown>;
  /**
   * Check the app with cdk-nag's AwsSolutionsChecks at synthesis.
   * @default true
   */
  readonly nag?: boolean;
  /**
   * The variables the CDK CLI sets for the app: `CDK_DEFAULT_ACCOUNT` and `CDK_DEFAULT_REGION` (from the
   * credentials' account and the profile's or `AWS_REGION`'s region). Both set: a stack for that environment;
   * neither: an environment-agnostic stack.
   * @default process.env
   */
  readonly variables?: Readonly<Record<string, string | undefined>>;
}

export interface LifecycleApp {
  readonly app: App;
  readonly stack: TenantLifecycleStack;
}

/** Build the app and its stack without synthesizing it. */
export function buildApp(options: BuildAppOptions = {}): LifecycleApp {
  const app = new App({ outdir: options.outdir, context: options.context });
  const variables = options.variables ?? process.env;
  const removalPolicy = removalPolicyFrom(app.node.tryGetContext('removalPolicy'));
  const stack = new TenantLifecycleStack(app, STACK_NAME, {
    env: { account: variables.CDK_DEFAULT_ACCOUNT, region: variables.CDK_DEFAULT_REGION },
    description: 'Tenant lifecycle control plane: tenant table and HTTPS API.',
    removalPolicy,
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    stripePriceIds: stripePriceIdsFrom(app.node.tryGetContext('stripePriceIds')),
    stripeSecretArn: secretArnFrom('stripeSecretArn', app.node.tryGetContext('stripeSecretArn')),
    pinecone: pineconeFrom(app),
    exportRetentionDays: exportRetentionDaysFrom(app.node.tryGetContext('exportRetentionDays')),
    documentsBucketName: documentsBucketNameFrom(app.node.tryGetContext('documentsBucketName')),
    stripeEventSource: stripeEventSourceFrom(app.node.tryGetContext('stripeEventSource')),
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

function secretArnFrom(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+-\w{6}$/.test(value)) {
    throw new Error(`Context ${name} must be the full ARN of a Secrets Manager secret (ending in its 6-character suffix).`);
  }
  return value;
}

function pineconeFrom(app: App): { secretArn: string; region: string; dimension?: number } | undefined {
  const secretArn = secretArnFrom('pineconeSecretArn', app.node.tryGetContext('pineconeSecretArn'));
  if (!secretArn) return undefined;
  const region: unknown = app.node.tryGetContext('pineconeRegion');
  if (typeof region !== 'string' || !/^[a-z]{2}-[a-z]+-\d$/.test(region)) {
    throw new Error("Context pineconeRegion is required with pineconeSecretArn: the AWS region of Pinecone's dedicated indexes, e.g. 'us-east-1'.");
  }
  const rawDimension: unknown = app.node.tryGetContext('pineconeDimension');
  if (rawDimension === undefined) return { secretArn, region };
  const dimension = Number(rawDimension);
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > 20_000) throw new Error('Context pineconeDimension must be a whole number from 1 to 20000.');
  return { secretArn, region, dimension };
}

function exportRetentionDaysFrom(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`Context exportRetentionDays must be a whole number of days from 1 to 3650, got '${String(value)}'.`);
  return days;
}

function documentsBucketNameFrom(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`Context documentsBucketName must be an S3 bucket name, got '${String(value)}'.`);
  return value;
}

function stripeEventSourceFrom(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !STRIPE_EVENT_SOURCE_PATTERN.test(value)) {
    throw new Error(`Context stripeEventSource must be the partner event source Stripe created (aws.partner/stripe.com/...; see EventBridge > Partner event sources), got '${String(value)}'.`);
  }
  return value;
}

function removalPolicyFrom(value: unknown): RemovalPolicy {
  if (value === undefined || value === 'retain') return RemovalPolicy.RETAIN;
  if (value === 'destroy') return RemovalPolicy.DESTROY;
  throw new Error(`Context removalPolicy must be 'retain' or 'destroy', got '${String(value)}'.`);
}

function stripePriceIdsFrom(value: unknown): StripePriceIds | undefined {
  if (value === undefined) return undefined;
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('Context stripePriceIds must be a JSON object of plan id to Stripe price id.');
  }
  const priceIds: StripePriceIds = {};
  for (const [plan, priceId] of Object.entries(parsed)) {
    if (!isPlanId(plan) || typeof priceId !== 'string') {
      throw new Error(`Context stripePriceIds: '${plan}' must be a plan id with a string price id.`);
    }
    priceIds[plan] = priceId;
  }
  return priceIds;
}

if (require.main === module) {
  buildApp().app.synth();
}
