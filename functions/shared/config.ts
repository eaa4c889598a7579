/**
 * The one place that reads `process.env`. Read once at module scope; a variable a caller needs but that is
 * missing fails loudly, naming the variable, the first time it is read.
 */
import { DEFAULT_DUNNING_POLICY, dunningPolicyFrom, type DunningPolicy } from '../dunning/dunning-policy';
import type { StripePriceIds } from '../plans/plan-catalog';
import { SCHEDULE_TARGETS, scheduleTargetVariable, type ScheduleTarget } from '../scheduler/scheduler-port';
import { WORKFLOWS, stateMachineArnVariable, type WorkflowName } from '../workflows/registry';
import { DEFAULT_RATE_LIMITS, RATE_LIMIT_VARIABLES, type RateLimits } from './http/rate-limit-policy';

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

function optional(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function required(name: string): string {
  const value = optional(name);
  if (value === undefined) throw new ConfigurationError(`Environment variable ${name} is required but not set.`);
  return value;
}

/** A positive number from `name` (a whole one unless `fraction`), else `fallback`. */
function positive(name: string, fallback: number, fraction = false): number {
  const raw = optional(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(fraction ? Number.isFinite(value) : Number.isInteger(value)) || value <= 0) {
    throw new ConfigurationError(`Environment variable ${name} must be a positive ${fraction ? 'number' : 'integer'}, got '${raw}'.`);
  }
  return value;
}

/**
 * Live query leases one tenant may hold at once, unless MAX_LIVE_LEASES_PER_TENANT says otherwise: above what
 * one tenant's application runs concurrently, far below what would let it hold a plan change's drain
 * indefinitely by piling up leases (issue 13). The CDK stack's `maxLiveLeasesPerTenant` defaults to it too.
 */
export const DEFAULT_MAX_LIVE_LEASES_PER_TENANT = 100;
/**
 * The highest cap accepted: each acquire reads the tenant's slot items (about 120 bytes each, so 1000 of them
 * are some 30 read units of a strongly consistent Query).
 */
export const MAX_LIVE_LEASES_CEILING = 1000;
function integer(name: string, fallback: number): number {
  return positive(name, fallback);
}

export interface Config {
  /** The lifecycle table (tenants, audit trail, idempotency records). */
  readonly tableName: string;
  readonly region: string;
  /**
   * JWT_AUDIENCE: the audience the local issuer puts in its tokens' `aud` and the local adapter requires (its default
   * is the resource server's identifier, `tenant-lifecycle`). On AWS, API Gateway's JWT authorizer checks the
   * audiences the stack configures; the handlers read only the verified claims.
   */
  readonly jwtAudience: string | undefined;
  /** Endpoint override for DynamoDB (DynamoDB Local, LocalStack); undefined on AWS. */
  readonly dynamoDbEndpoint: string | undefined;
  readonly secretsManagerEndpoint: string | undefined;
  /** Endpoint override for S3 (the local S3 server, LocalStack); undefined on AWS. */
  readonly s3Endpoint: string | undefined;
  /**
   * With an S3 endpoint override only: the key of the local S3 server (S3_LOCAL_ACCESS_KEY_ID and
   * S3_LOCAL_SECRET_ACCESS_KEY, set by the local stack and the test run), which is never the DynamoDB Local key
   * (infra/local/loopback-env.ts says why); undefined on AWS (the function's role) and where they are unset
   * (LocalStack takes any key). Read on use.
   */
  readonly s3Credentials: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  /** The application's documents bucket (one prefix per tenant): a data source of exports and erasure. */
  readonly documentsBucket: string | undefined;
  /** The bucket GDPR exports are written to and downloaded from. */
  readonly exportsBucket: string | undefined;
  readonly stripePriceIds: StripePriceIds;
  /** Each workflow's state machine (AWS), from `<WORKFLOW>_STATE_MACHINE_ARN` (stateMachineArnVariable). */
  readonly stateMachineArns: Readonly<Partial<Record<WorkflowName, string>>>;
  readonly stepFunctionsEndpoint: string | undefined;
  /** Stripe secret key (local use); without it or a secret ARN, billing goes to the local ledger. */
  readonly stripeSecretKey: string | undefined;
  /** Secrets Manager secret holding the Stripe key (AWS). */
  readonly stripeSecretArn: string | undefined;
  /**
   * The Stripe webhook endpoint's signing secret (`whsec_...`), given directly (local stack, tests):
   * POST /webhooks/stripe verifies the Stripe-Signature header with it.
   */
  readonly stripeWebhookSecret: string | undefined;
  /** Secrets Manager secret holding the webhook signing secret (AWS). */
  readonly stripeWebhookSecretArn: string | undefined;
  /**
   * Pinecone: with an API key (PINECONE_API_KEY, local use) or a Secrets Manager secret holding one
   * (PINECONE_SECRET_ARN, AWS), plan changes provision vectors in Pinecone; without, the local provisioner.
   */
  readonly pinecone:
    | {
        readonly apiKey: string | undefined;
        readonly secretArn: string | undefined;
        readonly region: string;
        readonly dimension: number;
        readonly controllerUrl: string | undefined;
      }
    | undefined;
  /**
   * EventBridge Scheduler (AWS): with a group name, one-shot schedules are made there, firing the target
   * Lambdas through the scheduler's role; without, schedules go to the local scheduler (the lifecycle table).
   */
  readonly scheduler:
    | {
        readonly groupName: string;
        readonly roleArn: string;
        readonly deadLetterArn: string;
        readonly targetArns: Readonly<Record<ScheduleTarget, string | undefined>>;
        readonly endpoint: string | undefined;
      }
    | undefined;
  /** Powertools service name (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /** CloudWatch metrics namespace (POWERTOOLS_METRICS_NAMESPACE). */
  readonly metricsNamespace: string;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** How long an Idempotency-Key is remembered, in seconds. */
  readonly idempotencyTtlSeconds: number;
  /**
   * MAX_LIVE_LEASES_PER_TENANT: live (unexpired, unreleased) query leases one tenant may hold at once; one more is
   * refused with 429 LEASE_LIMIT_REACHED. Default DEFAULT_MAX_LIVE_LEASES_PER_TENANT, at most
   * MAX_LIVE_LEASES_CEILING. Read on use.
   */
  readonly maxLiveLeasesPerTenant: number;
  /**
   * How long a secret read from Secrets Manager (the Stripe key, the Pinecone key, the webhook signing secret) is
   * kept before it is read again, in seconds: POWERTOOLS_PARAMETERS_MAX_AGE, Powertools Parameters' own variable,
   * default 300 (a rotated key reaches warm containers within 5 minutes; an authentication failure re-reads sooner).
   */
  readonly secretMaxAgeSeconds: number;
  /**
   * The dunning ladder (functions/dunning/dunning-policy.ts): DUNNING_GRACE_DAYS (default 7),
   * DUNNING_DELETE_AFTER_CANCELED_DAYS (unset: never soft-delete), DUNNING_BUSY_RETRY_SECONDS (default 900).
   */
  readonly dunning: DunningPolicy;
  /**
   * The per-caller rate limits of the API (functions/shared/http/rate-limit.ts): RATE_LIMIT_TENANT_PER_SECOND and
   * RATE_LIMIT_OPERATOR_PER_SECOND (positive numbers: 0.5 is one request every 2 s), RATE_LIMIT_TENANT_BURST and
   * RATE_LIMIT_OPERATOR_BURST (positive integers), each defaulting to DEFAULT_RATE_LIMITS. Read on use, so a test can set them before its requests.
   */
  readonly rateLimits: RateLimits;
}

function load(): Config {
  return {
    get tableName() {
      return required('TABLE_NAME');
    },
    region: optional('AWS_REGION') ?? optional('AWS_DEFAULT_REGION') ?? 'us-east-1',
    get jwtAudience() {
      return optional('JWT_AUDIENCE');
    },
    dynamoDbEndpoint: optional('AWS_ENDPOINT_URL_DYNAMODB') ?? optional('AWS_ENDPOINT_URL'),
    secretsManagerEndpoint: optional('AWS_ENDPOINT_URL_SECRETS_MANAGER') ?? optional('AWS_ENDPOINT_URL'),
    s3Endpoint: optional('AWS_ENDPOINT_URL_S3') ?? optional('AWS_ENDPOINT_URL'),
    get s3Credentials() {
      const accessKeyId = optional('S3_LOCAL_ACCESS_KEY_ID');
      const secretAccessKey = optional('S3_LOCAL_SECRET_ACCESS_KEY');
      return this.s3Endpoint && accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
    },
    get documentsBucket() {
      return optional('DOCUMENTS_BUCKET');
    },
    get exportsBucket() {
      return optional('EXPORTS_BUCKET');
    },
    stripePriceIds: {
      // Usually unset: a free tenant is then not billed through Stripe. A $0 price here gives every tenant a subscription.
      free: optional('STRIPE_PRICE_FREE'),
      starter: optional('STRIPE_PRICE_STARTER'),
      professional: optional('STRIPE_PRICE_PROFESSIONAL'),
      enterprise: optional('STRIPE_PRICE_ENTERPRISE'),
    },
    stateMachineArns: Object.fromEntries(WORKFLOWS.map((workflow) => [workflow, optional(stateMachineArnVariable(workflow))])),
    stepFunctionsEndpoint: optional('AWS_ENDPOINT_URL_SFN') ?? optional('AWS_ENDPOINT_URL'),
    stripeSecretKey: optional('STRIPE_SECRET_KEY'),
    stripeSecretArn: optional('STRIPE_SECRET_ARN'),
    // Read on use: the local stack sets it after generating one, tests before their first delivery.
    get stripeWebhookSecret() {
      return optional('STRIPE_WEBHOOK_SECRET');
    },
    get stripeWebhookSecretArn() {
      return optional('STRIPE_WEBHOOK_SECRET_ARN');
    },
    get pinecone() {
      const apiKey = optional('PINECONE_API_KEY');
      const secretArn = optional('PINECONE_SECRET_ARN');
      if (!apiKey && !secretArn) return undefined;
      return { apiKey, secretArn, region: required('PINECONE_REGION'), dimension: integer('PINECONE_DIMENSION', 1536), controllerUrl: optional('PINECONE_CONTROLLER_URL') };
    },
    get scheduler() {
      const groupName = optional('SCHEDULER_GROUP_NAME');
      if (!groupName) return undefined;
      return {
        groupName,
        roleArn: required('SCHEDULER_ROLE_ARN'),
        deadLetterArn: required('SCHEDULER_DEAD_LETTER_ARN'),
        targetArns: Object.fromEntries(SCHEDULE_TARGETS.map((target) => [target, optional(scheduleTargetVariable(target))])) as Record<ScheduleTarget, string | undefined>,
        endpoint: optional('AWS_ENDPOINT_URL_SCHEDULER') ?? optional('AWS_ENDPOINT_URL'),
      };
    },
    serviceName: optional('POWERTOOLS_SERVICE_NAME') ?? 'tenant-lifecycle',
    metricsNamespace: optional('POWERTOOLS_METRICS_NAMESPACE') ?? 'TenantLifecycle',
    maxBodyBytes: integer('MAX_BODY_BYTES', 64 * 1024),
    idempotencyTtlSeconds: integer('IDEMPOTENCY_TTL_SECONDS', 24 * 60 * 60),
    get maxLiveLeasesPerTenant() {
      const cap = integer('MAX_LIVE_LEASES_PER_TENANT', DEFAULT_MAX_LIVE_LEASES_PER_TENANT);
      if (cap > MAX_LIVE_LEASES_CEILING) throw new ConfigurationError(`Environment variable MAX_LIVE_LEASES_PER_TENANT must be at most ${MAX_LIVE_LEASES_CEILING}, got '${cap}'.`);
      return cap;
    },
    get secretMaxAgeSeconds() {
      return integer('POWERTOOLS_PARAMETERS_MAX_AGE', 300);
    },
    get dunning() {
      const deleteAfter = optional('DUNNING_DELETE_AFTER_CANCELED_DAYS');
      return dunningPolicyFrom({
        graceDays: integer('DUNNING_GRACE_DAYS', DEFAULT_DUNNING_POLICY.graceDays),
        // Unset (the default): never soft-delete; set, a positive number of days.
        deleteAfterCanceledDays: deleteAfter === undefined ? undefined : integer('DUNNING_DELETE_AFTER_CANCELED_DAYS', 1),
        busyRetrySeconds: integer('DUNNING_BUSY_RETRY_SECONDS', DEFAULT_DUNNING_POLICY.busyRetrySeconds),
      });
    },
    get rateLimits() {
      const limitOf = (role: keyof RateLimits) => ({
        perSecond: positive(RATE_LIMIT_VARIABLES[role].perSecond, DEFAULT_RATE_LIMITS[role].perSecond, true),
        burst: integer(RATE_LIMIT_VARIABLES[role].burst, DEFAULT_RATE_LIMITS[role].burst),
      });
      return { tenant: limitOf('tenant'), operator: limitOf('operator') };
    },
  };
}

export const config: Config = load();
