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
 *   jwtIssuer       https issuer URL of an existing identity provider to trust (else: the stack's own Cognito user
 *                   pool), with jwtAudience (required with it: comma-separated `aud` values, or app client ids for
 *                   Cognito) and optionally jwtOperatorScope, jwtTenantScope, jwtTenantClaim (its own names for the
 *                   operator scope, the tenant scope and the tenant claim).
 *   cognitoDomainPrefix the stack's user pool's Cognito domain prefix (default `tenantlifecycle-<account id>`).
 *   maxLiveLeasesPerTenant live query leases one tenant may hold at once (default 100, at most 1000): one more is
 *                   refused with 429 LEASE_LIMIT_REACHED.
 *   operatorCallbackUrls comma-separated redirect URLs of the operator app client (https, or http://localhost...;
 *                   default http://localhost:8000/callback).
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { isPlanId, type StripePriceIds } from '../functions/plans/plan-catalog';
import { DEFAULT_CLAIM_MAPPING, type ClaimMapping } from '../functions/auth/jwt-claims';
import { STRIPE_EVENT_SOURCE_PATTERN } from './constructs/stripe-events';
import { TenantLifecycleStack, type TenantLifecycleStackProps } from './tenant-lifecycle-stack';

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
    maxLiveLeasesPerTenant: wholeNumberFrom('maxLiveLeasesPerTenant', app.node.tryGetContext('maxLiveLeasesPerTenant')),
    ...identityFrom(app),
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

/** A context value given as a number or its digits (`-c name=5`); the stack checks its range. */
function wholeNumberFrom(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value === 'boolean' || String(value).trim() === '' || !Number.isInteger(number)) throw new Error(`Context ${name} must be a whole number, got '${String(value)}'.`);
  return number;
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

/** Context values as a list: a comma-separated string (`-c`) or an array (cdk.json), entries trimmed, empty ones dropped. */
function listFrom(value: unknown): string[] {
  const entries = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [String(value)];
  return entries.map((entry) => entry.trim()).filter(Boolean);
}

/** A scope or claim name of the trusted issuer: one token, no whitespace. */
function nameFrom(key: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\S+$/.test(value)) throw new Error(`Context ${key} must be one ${key === 'jwtTenantClaim' ? 'claim name' : 'scope'} (no spaces), got '${String(value)}'.`);
  return value;
}

/** The redirect URLs Cognito accepts for an app client: https, or http on localhost only. */
function callbackUrlsFrom(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const urls = listFrom(value);
  if (urls.length === 0) throw new Error('Context operatorCallbackUrls must list at least one URL, comma-separated.');
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && parsed.hostname === 'localhost'))) {
      throw new Error(`Context operatorCallbackUrls: ${url} must be an https URL (or http://localhost:<port>/..., for a tool on the operator's machine).`);
    }
  }
  return urls;
}

function domainPrefixFrom(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) {
    throw new Error(`Context cognitoDomainPrefix must be 1 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit, got '${String(value)}'.`);
  }
  if (/aws|amazon|cognito/.test(value)) throw new Error(`Context cognitoDomainPrefix must not contain aws, amazon or cognito (Cognito reserves them), got '${value}'.`);
  return value;
}

/**
 * Whom the API trusts: an existing issuer (`jwtIssuer` with `jwtAudience`, and its own scope and claim names if
 * they differ), or the stack's own user pool (its domain prefix and operator callback URLs). Throws, naming the
 * context value and what to fix, for an issuer that is not https, a missing audience, or a value of one mode
 * given in the other.
 */
function identityFrom(app: App): Pick<TenantLifecycleStackProps, 'trustedIssuer' | 'identityProvider'> {
  const context = (key: string): unknown => app.node.tryGetContext(key);
  const issuer = context('jwtIssuer');
  const names = ['jwtOperatorScope', 'jwtTenantScope', 'jwtTenantClaim'] as const;
  if (issuer === undefined) {
    if (context('jwtAudience') !== undefined) throw new Error("Context jwtAudience needs jwtIssuer: the stack's own user pool is trusted with its own app clients as audience.");
    if (names.some((key) => context(key) !== undefined)) {
      throw new Error(
        "Context jwtOperatorScope, jwtTenantScope and jwtTenantClaim apply to a trusted issuer (-c jwtIssuer=...); the stack's own user pool issues tenant-lifecycle/operator, tenant-lifecycle/tenant and the tenant_id claim.",
      );
    }
    const domainPrefix = domainPrefixFrom(context('cognitoDomainPrefix'));
    const operatorCallbackUrls = callbackUrlsFrom(context('operatorCallbackUrls'));
    return { identityProvider: { ...(domainPrefix ? { domainPrefix } : {}), ...(operatorCallbackUrls ? { operatorCallbackUrls } : {}) } };
  }
  let url: URL | undefined;
  try {
    url = typeof issuer === 'string' ? new URL(issuer) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'https:') {
    throw new Error(`Context jwtIssuer must be the identity provider's https issuer URL (the \`iss\` of its tokens, e.g. https://acme.eu.auth0.com/), got '${String(issuer)}'.`);
  }
  const audience = context('jwtAudience') === undefined ? [] : listFrom(context('jwtAudience'));
  if (audience.length === 0) {
    throw new Error("Context jwtAudience is required with jwtIssuer: the audience(s) the provider's access tokens carry (`aud`; a Cognito pool's app client ids), comma-separated.");
  }
  if (context('cognitoDomainPrefix') !== undefined || context('operatorCallbackUrls') !== undefined) {
    throw new Error("Context cognitoDomainPrefix and operatorCallbackUrls configure the stack's own user pool; with jwtIssuer the stack creates none.");
  }
  const [operatorScope, tenantScope, tenantClaim] = names.map((key) => nameFrom(key, context(key)));
  const mapping: Partial<ClaimMapping> = { ...(operatorScope ? { operatorScope } : {}), ...(tenantScope ? { tenantScope } : {}), ...(tenantClaim ? { tenantClaim } : {}) };
  const merged = { ...DEFAULT_CLAIM_MAPPING, ...mapping };
  if (merged.operatorScope === merged.tenantScope) {
    throw new Error('Context jwtOperatorScope and jwtTenantScope must differ: the scope is what makes a caller an operator or a tenant.');
  }
  return { trustedIssuer: { issuer: issuer as string, audience, mapping } };
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
