/** The control plane's one stack: the lifecycle table, the HTTPS API in front of it and every workflow of the registry. */
import { CfnOutput, RemovalPolicy, Stack, Token, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StripePriceIds } from '../functions/plans/plan-catalog';
import { DEFAULT_MAX_LIVE_LEASES_PER_TENANT, MAX_LIVE_LEASES_CEILING } from '../functions/shared/config';
import type { HandlerFunction } from './constructs/handler-function';
import type { WorkflowReach } from '../functions/workflows/workflow-definition';
import { DocumentsBucket, DOCUMENTS_PREFIX, LOCAL_VECTORS_PREFIX } from './constructs/documents-bucket';
import { ExportBucket } from './constructs/export-bucket';
import { DEFAULT_CLAIM_MAPPING, type ClaimMapping } from '../functions/auth/jwt-claims';
import { IdentityProvider, type IdentityProviderProps } from './constructs/identity-provider';
import { LifecycleApi } from './constructs/lifecycle-api';
import { LifecycleEvents } from './constructs/lifecycle-events';
import { LifecycleTable } from './constructs/lifecycle-table';
import { OneShotScheduler } from './constructs/one-shot-scheduler';
import { featureDefinitions, workflowDefinitions } from '../functions/workflows/registry';
import { BillingReconciler } from './constructs/billing-reconciler';
import { FeatureScheduleTargets } from './constructs/feature-schedule-targets';
import { PLAN_CHANGE_WORKFLOW } from '../functions/plan-change/plan-change-definition';
import { REACTIVATION_WORKFLOW } from '../functions/reactivation/reactivation-definition';
import { EXPORT_WORKFLOW } from '../functions/export/export-definition';
import { planChangeWorkflow, type PlanChangeWorkflow } from './constructs/plan-change-workflow';
import { StuckOperationSweeper } from './constructs/stuck-operation-sweeper';
import { DeletionSweeper } from './constructs/deletion-sweeper';
import { HARD_DELETE_WORKFLOW } from '../functions/deletion/hard-delete-definition';
import { pascalCase, WorkflowStateMachine } from './constructs/workflow-state-machine';
import { StripeEvents } from './constructs/stripe-events';
import type { RateLimits } from '../functions/shared/http/rate-limit-policy';

/** The route that creates a tenant, with its Stripe customer and subscription. */
export const CREATE_TENANT_ROUTE_ID = 'CreateTenant';
/** The route that reconciles billing on demand (reads subscriptions through billing, arms the ladder's timers). */
export const RECONCILE_BILLING_ROUTE_ID = 'ReconcileBilling';
/** The route that starts plan-change executions (functions/api/routes.ts); the only one with Step Functions access. */
export const CHANGE_PLAN_ROUTE_ID = 'ChangePlan';
export const ACQUIRE_QUERY_LEASE_ROUTE_ID = 'AcquireQueryLease';
/** The route that cancels a scheduled plan change (billing put back, schedule deleted). */
export const CANCEL_SCHEDULED_PLAN_CHANGE_ROUTE_ID = 'CancelScheduledPlanChange';
/** The routes that start a GDPR export and hand out its download URLs. */
export const START_EXPORT_ROUTE_ID = 'StartExport';
export const GET_EXPORT_ROUTE_ID = 'GetExport';
/** The soft-delete routes: the request (arms the deletion schedules, stops billing), its cancellation, a hold's release. */
export const INITIATE_DELETION_ROUTE_ID = 'InitiateDeletion';
export const CANCEL_DELETION_ROUTE_ID = 'CancelDeletion';
export const RELEASE_LEGAL_HOLD_ROUTE_ID = 'ReleaseLegalHold';
/** Starts the reactivation workflow (its steps bill, provision and cancel schedules; the route only writes the table). */
export const REACTIVATE_TENANT_ROUTE_ID = 'ReactivateTenant';
/** Stripe's webhook deliveries: verified by signature, then the Stripe event processor (billing reads). */
export const STRIPE_WEBHOOK_ROUTE_ID = 'StripeWebhook';

export interface TenantLifecycleStackProps extends StackProps {
  /**
   * What happens to the table, the log groups and the user pool when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deletion protection of the table.
   * @default - true, unless removalPolicy is DESTROY (a protected table would block the stack's deletion)
   */
  readonly deletionProtection?: boolean;
  /**
   * Stripe price ids per plan, given to the route handlers as STRIPE_PRICE_<PLAN>.
   * @default - none
   */
  readonly stripePriceIds?: StripePriceIds;
  /**
   * Retention of the functions' logs and the API access logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * ARN of a Secrets Manager secret holding the Stripe secret key. The plan-change functions read it at run
   * time (never an environment variable with the key itself).
   * @default - no Stripe: plan changes bill to the local ledger in the table
   */
  readonly stripeSecretArn?: string;
  /**
   * Pinecone, for vectors that really move between the pooled index and a dedicated one on plan changes: a
   * Secrets Manager secret holding the API key (read at run time by the workflow's functions only), the
   * region dedicated indexes are created in, and the embeddings' dimension (default 1536).
   * @default - no Pinecone: the local provisioner records placements without moving vectors
   */
  readonly pinecone?: { readonly secretArn: string; readonly region: string; readonly dimension?: number };
  /**
   * Days a GDPR export is kept in the export bucket before S3 lifecycle deletes it.
   * @default 30
   */
  readonly exportRetentionDays?: number;
  /** The API's per-caller rate limits (LifecycleApiProps.rateLimits). @default DEFAULT_RATE_LIMITS */
  readonly rateLimits?: RateLimits;
  /**
   * The application's documents bucket (in this account), one prefix per tenant (`tenants/<tenantId>/`): the
   * export task reads it. Only read access is granted, under `tenants/` (and `vectors/` without Pinecone).
   * @default - the stack creates a documents bucket and outputs its name (DocumentsBucketName) for the
   *   application to store its documents in
   */
  readonly documentsBucketName?: string;
  /**
   * The partner event source of a Stripe event destination of type Amazon EventBridge
   * (`aws.partner/stripe.com/...`, as Stripe created it in this account and region): the stack creates its partner
   * event bus, a rule and the function that hands each event to the Stripe event processor, with retries, a
   * dead-letter queue and an alarm on it.
   * @default - no EventBridge path: Stripe events arrive through the webhook (POST /webhooks/stripe) only
   */
  readonly stripeEventSource?: string;
  /**
   * An existing identity provider to trust instead of the stack's own user pool (Auth0, Okta, Entra ID, another
   * Cognito pool...): its issuer URL (https), the audiences its access tokens carry (`aud`, or Cognito's
   * `client_id`), and optionally its own scope names and tenant claim.
   * @default - the stack creates an Amazon Cognito user pool (IdentityProvider) and trusts it
   */
  readonly trustedIssuer?: { readonly issuer: string; readonly audience: readonly string[]; readonly mapping?: Partial<ClaimMapping> };
  /**
   * The stack's own user pool (without `trustedIssuer`): its Cognito domain prefix and the operator app client's
   * callback URLs.
   * @default - domain `<stack name>-<account id>`, callback DEFAULT_OPERATOR_CALLBACK_URLS
   */
  readonly identityProvider?: Pick<IdentityProviderProps, 'domainPrefix' | 'operatorCallbackUrls'>;
  /**
   * Live query leases one tenant may hold at once (MAX_LIVE_LEASES_PER_TENANT of the AcquireQueryLease function):
   * one more is refused with 429 LEASE_LIMIT_REACHED, so a tenant's callers cannot pile up leases that hold a
   * plan change's drain. A whole number from 1 to MAX_LIVE_LEASES_CEILING (1000).
   * @default DEFAULT_MAX_LIVE_LEASES_PER_TENANT (100)
   */
  readonly maxLiveLeasesPerTenant?: number;
}

export class TenantLifecycleStack extends Stack {
  /** The stack's own Cognito user pool and app clients; undefined when it trusts another issuer (`trustedIssuer`). */
  readonly identity?: IdentityProvider;
  readonly table: LifecycleTable;
  readonly api: LifecycleApi;
  /** One construct per workflow of the registry, by name. */
  readonly workflows: ReadonlyMap<string, WorkflowStateMachine>;
  readonly planChange: PlanChangeWorkflow;
  readonly sweeper: StuckOperationSweeper;
  /** Hourly: hard-deletes tenants past their window, recreates lost deletion schedules; alarms on violations. */
  readonly deletionSweeper: DeletionSweeper;
  /** The schedule targets of the registry's features (not workflows), by feature name. */
  readonly features: ReadonlyMap<string, FeatureScheduleTargets>;
  readonly billingReconciler: BillingReconciler;
  readonly scheduler: OneShotScheduler;
  /** Where GDPR exports are written and downloaded from. */
  readonly exports: ExportBucket;
  /** The application's documents (given by name, or created here): read by the export task. */
  readonly documents: DocumentsBucket;
  /** Every tenant change published on the stack's event bus, from the table's stream (functions/events/). */
  readonly events: LifecycleEvents;
  /** Stripe events through EventBridge, when `stripeEventSource` is given. */
  readonly stripeEvents?: StripeEvents;

  constructor(scope: Construct, id: string, props: TenantLifecycleStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new LifecycleTable(this, 'LifecycleTable', {
      removalPolicy,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
    });
    const mapping: ClaimMapping = { ...DEFAULT_CLAIM_MAPPING, ...props.trustedIssuer?.mapping };
    if (!props.trustedIssuer) {
      if (!Token.isUnresolved(this.region) && this.region.startsWith('cn-')) {
        // CloudFormation has no AWS::Cognito::UserPool in the China regions: the deployment would fail there.
        throw new Error(`Amazon Cognito user pools are not available in ${this.region}: trust an existing OpenID Connect issuer with -c jwtIssuer=<https issuer URL> -c jwtAudience=<audience>.`);
      }
      this.identity = new IdentityProvider(this, 'Identity', { ...props.identityProvider, mapping, removalPolicy, logRetention: props.logRetention, serviceName: 'tenant-lifecycle' });
    }
    const jwt = props.trustedIssuer
      ? { issuer: props.trustedIssuer.issuer, audience: props.trustedIssuer.audience, mapping }
      : { issuer: this.identity!.issuer, audience: this.identity!.audience, mapping };
    this.api = new LifecycleApi(this, 'Api', {
      table: this.table,
      jwt,
      removalPolicy,
      logRetention: props.logRetention,
      stripePriceIds: props.stripePriceIds,
      rateLimits: props.rateLimits,
    });
    this.api.routeFunction(ACQUIRE_QUERY_LEASE_ROUTE_ID).function.addEnvironment('MAX_LIVE_LEASES_PER_TENANT', String(maxLiveLeasesOf(props.maxLiveLeasesPerTenant)));
    this.events = new LifecycleEvents(this, 'LifecycleEvents', { table: this.table, removalPolicy, logRetention: props.logRetention });
    this.scheduler = new OneShotScheduler(this, 'Scheduler', { removalPolicy });
    this.exports = new ExportBucket(this, 'Exports', { removalPolicy, retentionDays: props.exportRetentionDays });
    this.documents = new DocumentsBucket(this, 'Documents', { bucketName: props.documentsBucketName, accessLogs: this.exports.accessLogs, removalPolicy });
    const workflowProps = { table: this.table, removalPolicy, logRetention: props.logRetention, stripePriceIds: props.stripePriceIds };
    this.sweeper = new StuckOperationSweeper(this, 'Sweeper', workflowProps);
    this.workflows = new Map(
      workflowDefinitions().map((definition) => [
        definition.name,
        new WorkflowStateMachine(this, pascalCase(definition.name), { ...workflowProps, definition, scheduler: this.scheduler, sweeper: this.sweeper }),
      ]),
    );
    this.deletionSweeper = new DeletionSweeper(this, 'DeletionSweeper', {
      table: this.table,
      scheduler: this.scheduler,
      hardDelete: this.workflows.get(HARD_DELETE_WORKFLOW.name) as WorkflowStateMachine,
      logRetention: props.logRetention,
      removalPolicy,
    });
    if (props.stripeEventSource) {
      this.stripeEvents = new StripeEvents(this, 'StripeEvents', { ...workflowProps, eventSourceName: props.stripeEventSource });
    }
    // The two paths of Stripe events to the one processor: the webhook route and, with an event source, the rule's target.
    const stripeEventProcessors = [this.api.routeFunction(STRIPE_WEBHOOK_ROUTE_ID), ...(this.stripeEvents ? [this.stripeEvents.processorFunction] : [])];
    this.features = new Map(
      featureDefinitions().map((definition) => [
        definition.name,
        new FeatureScheduleTargets(this, `${pascalCase(definition.name)}Targets`, { definition, table: this.table, scheduler: this.scheduler, stripePriceIds: props.stripePriceIds, logRetention: props.logRetention, removalPolicy }),
      ]),
    );
    this.billingReconciler = new BillingReconciler(this, 'BillingReconciler', { table: this.table, scheduler: this.scheduler, stripePriceIds: props.stripePriceIds, logRetention: props.logRetention, removalPolicy });
    this.planChange = planChangeWorkflow(this.workflows.get(PLAN_CHANGE_WORKFLOW.name) as WorkflowStateMachine);
    // Each function of a workflow or feature gets what its registry entry says it reaches, and nothing else.
    const reaching = (reach: WorkflowReach): HandlerFunction[] =>
      [...new Set([...[...this.workflows.values(), ...this.features.values()].flatMap((owner) => owner.functionsReaching(reach))])];
    // No cycle: the state machine invokes only its task function, never the API's functions, so the route can
    // take the state machine's own ARN (a Ref) instead of one built from a fixed name.
    const changePlan = this.api.routeFunction(CHANGE_PLAN_ROUTE_ID);
    this.planChange.grantStartExecution(changePlan);
    // ChangePlan schedules period-end downgrades (and undoes a scheduling that failed); the cancel route cancels.
    this.scheduler.grantSchedule(changePlan);
    const cancelScheduled = this.api.routeFunction(CANCEL_SCHEDULED_PLAN_CHANGE_ROUTE_ID);
    this.scheduler.grantCancel(cancelScheduled);
    // A soft delete arms the hard delete and its enforcement check (and deletes them, and a cancelled scheduled
    // change's schedule, when it fails or after it commits); cancelling it deletes them; releasing a legal hold
    // re-arms them. Placing a hold only writes the tenant.
    const initiateDeletion = this.api.routeFunction(INITIATE_DELETION_ROUTE_ID);
    this.scheduler.grantSchedule(initiateDeletion);
    const cancelDeletion = this.api.routeFunction(CANCEL_DELETION_ROUTE_ID);
    this.scheduler.grantCancel(cancelDeletion);
    this.scheduler.grantSchedule(this.api.routeFunction(RELEASE_LEGAL_HOLD_ROUTE_ID));
    // Reconciliation (on demand and daily) applies the dunning ladder: it arms and cancels the ladder's timers.
    const reconcileBilling = this.api.routeFunction(RECONCILE_BILLING_ROUTE_ID);
    this.scheduler.grantSchedule(reconcileBilling);
    // So does the Stripe event processor, on both paths (the webhook route and the partner bus's target).
    for (const processor of stripeEventProcessors) this.scheduler.grantSchedule(processor);
    // StartExport starts the export's execution (and nothing else on it); GetExport signs download URLs, which
    // fetch with its role: GetObject under exports/ of the export bucket, nothing more.
    (this.workflows.get(EXPORT_WORKFLOW.name) as WorkflowStateMachine).grantStartExecution(this.api.routeFunction(START_EXPORT_ROUTE_ID));
    (this.workflows.get(REACTIVATION_WORKFLOW.name) as WorkflowStateMachine).grantStartExecution(this.api.routeFunction(REACTIVATE_TENANT_ROUTE_ID));
    const getExport = this.api.routeFunction(GET_EXPORT_ROUTE_ID);
    this.exports.grantDownload(getExport);
    getExport.function.addEnvironment('EXPORTS_BUCKET', this.exports.bucket.bucketName);
    getExport.function.addEnvironment('EXPORT_RETENTION_DAYS', String(this.exports.retentionDays));

    if (props.stripeSecretArn) {
      // Who calls billing: the workflows' functions that reach it (plan change's; the export's task, which lists
      // invoices), CreateTenant (the new tenant's customer and subscription, or the linked ones checked), ChangePlan
      // (the dry run's proration preview, and scheduling a period-end change) and the cancel route (it releases the
      // billing schedule), the soft delete and its cancellation (they cancel and restore the subscription), the
      // Stripe event processor's functions (webhook and EventBridge), the dunning ladder's reconciliation (route and
      // daily run) and timer (they read the subscription's status).
      const stripeKey = Secret.fromSecretCompleteArn(this, 'StripeSecretKey', props.stripeSecretArn);
      const createTenant = this.api.routeFunction(CREATE_TENANT_ROUTE_ID);
      const billingCallers = [createTenant, changePlan, cancelScheduled, initiateDeletion, cancelDeletion, ...stripeEventProcessors, reconcileBilling, this.billingReconciler.reconcileFunction, ...reaching('billing')];
      shareSecret(stripeKey, billingCallers, { STRIPE_SECRET_ARN: stripeKey.secretArn });
    }

    if (props.pinecone) {
      // Who provisions (steps, and the compensations that release what a step brought up), who reads vectors (export)
      // and who deletes them (hard delete).
      const pineconeKey = Secret.fromSecretCompleteArn(this, 'PineconeApiKey', props.pinecone.secretArn);
      const callers = [...new Set([...reaching('vectors:provision'), ...reaching('vectors:read'), ...reaching('vectors:delete')])];
      shareSecret(pineconeKey, callers, {
        PINECONE_SECRET_ARN: pineconeKey.secretArn,
        PINECONE_REGION: props.pinecone.region,
        PINECONE_DIMENSION: String(props.pinecone.dimension ?? 1536),
      });
    }

    for (const fn of reaching('exports:write')) {
      this.exports.grantWriteExports(fn);
      fn.function.addEnvironment('EXPORTS_BUCKET', this.exports.bucket.bucketName);
    }
    for (const fn of reaching('exports:delete')) {
      this.exports.grantDeleteExports(fn);
      fn.function.addEnvironment('EXPORTS_BUCKET', this.exports.bucket.bucketName);
    }
    // The documents bucket's prefixes each function reaches through `documents` and `vectors` (without Pinecone
    // the vectors are the local vector store's prefix of the documents bucket).
    const documentPrefixes = (documents: WorkflowReach, vectors: WorkflowReach): Map<HandlerFunction, string[]> => {
      const prefixes = new Map<HandlerFunction, string[]>();
      for (const fn of reaching(documents)) prefixes.set(fn, [DOCUMENTS_PREFIX]);
      if (!props.pinecone) for (const fn of reaching(vectors)) prefixes.set(fn, [...(prefixes.get(fn) ?? []), LOCAL_VECTORS_PREFIX]);
      return prefixes;
    };
    for (const [fn, prefixes] of documentPrefixes('documents:read', 'vectors:read')) {
      this.documents.grantReadTenantData(fn, prefixes);
      fn.function.addEnvironment('DOCUMENTS_BUCKET', this.documents.bucket.bucketName);
    }
    // The hard delete lists and deletes the same prefixes (it reads no object's content).
    for (const [fn, prefixes] of documentPrefixes('documents:delete', 'vectors:delete')) {
      this.documents.grantDeleteTenantData(fn, prefixes);
      fn.function.addEnvironment('DOCUMENTS_BUCKET', this.documents.bucket.bucketName);
    }
    // Functions that re-arm one-shot schedules themselves (the hard delete's own, when it fires early or under a hold).
    for (const fn of reaching('schedules')) this.scheduler.grantSchedule(fn);
    // Compensations that put back the schedules their workflow cancelled (a failed reactivation re-arms the soft
    // delete's): create and update, no delete. A function that also reaches `schedules` has both already.
    for (const fn of reaching('schedules:rearm')) if (!reaching('schedules').includes(fn)) this.scheduler.grantRearm(fn);

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Invoke URL of the tenant lifecycle API.' });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The lifecycle table.' });
    new CfnOutput(this, 'JwtIssuer', { value: jwt.issuer, description: "The issuer whose access tokens the API's JWT authorizer accepts." });
    if (this.identity) {
      new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId, description: 'The user pool of operators (create their users here; custom:tenant_id makes a user a tenant\'s).' });
      new CfnOutput(this, 'TokenEndpoint', { value: this.identity.tokenEndpoint, description: 'OAuth 2.0 token endpoint: client credentials of the application plane (scope tenant-lifecycle/tenant, aws_client_metadata={"tenant_id":"..."}).' });
      new CfnOutput(this, 'OperatorClientId', { value: this.identity.operatorClient.userPoolClientId, description: 'Operators sign in with this app client (authorization code + PKCE, scopes openid tenant-lifecycle/operator).' });
      new CfnOutput(this, 'ApplicationClientId', { value: this.identity.applicationClient.userPoolClientId, description: "The application plane's client-credentials app client; its secret is in the user pool console (or describe-user-pool-client)." });
    }
    new CfnOutput(this, 'ExportBucketName', { value: this.exports.bucket.bucketName, description: `GDPR exports, kept ${this.exports.retentionDays} days.` });
    new CfnOutput(this, 'DocumentsBucketName', {
      value: this.documents.bucket.bucketName,
      description: this.documents.created
        ? "Created by this stack (no documentsBucketName given): the application stores each tenant's documents under tenants/<tenantId>/ here, or the stack is given its own bucket; exports read only this bucket."
        : "The application's documents bucket (documentsBucketName): exports read tenants/<tenantId>/ of it.",
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.events.bus.eventBusName,
      description: 'Tenant lifecycle events (source tenant-lifecycle, detail-type tenant.<event>): add rules here to react to tenant changes.',
    });
    new CfnOutput(this, 'EventsDeadLetterQueueUrl', {
      value: this.events.deadLetterQueue.queueUrl,
      description: 'Stream batches of lifecycle events not published after their retries (shard and sequence numbers).',
    });
    new CfnOutput(this, 'StripeWebhookSecretArn', {
      value: this.api.stripeWebhookSecret.secretArn,
      description: "Put the Stripe webhook endpoint's signing secret (whsec_...) in this secret; the endpoint URL is ApiUrl + webhooks/stripe.",
    });
    if (this.stripeEvents) {
      new CfnOutput(this, 'StripeEventsDeadLetterQueueUrl', {
        value: this.stripeEvents.deadLetterQueue.queueUrl,
        description: 'Stripe events from EventBridge that could not be delivered or processed after their retries.',
      });
    }
    new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', {
      value: this.scheduler.deadLetterQueue.queueUrl,
      description: 'One-shot schedule deliveries (period-end plan changes) that failed after their retries.',
    });
    for (const [name, workflow] of this.workflows) {
      new CfnOutput(this, `${pascalCase(name)}StateMachineArn`, {
        value: workflow.stateMachine.stateMachineArn,
        description: `The ${workflow.definition.title} workflow (Step Functions, Standard).`,
      });
      new CfnOutput(this, `${pascalCase(name)}DeadLetterQueueUrl`, {
        value: workflow.deadLetterQueue.queueUrl,
        description: `Compensations of timed-out or aborted ${workflow.definition.title} executions that could not run: each message is a tenant to repair.`,
      });
    }
  }
}

/** Let exactly `handlers` read `secret` (at run time, by its ARN), with the variables that tell them how. */
function shareSecret(secret: ISecret, handlers: readonly HandlerFunction[], variables: Readonly<Record<string, string>>): void {
  for (const handler of handlers) {
    for (const [name, value] of Object.entries(variables)) handler.function.addEnvironment(name, value);
    secret.grantRead(handler);
  }
}

/** The cap on a tenant's live query leases: the prop, checked, else the default the functions use too. */
export function maxLiveLeasesOf(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_LIVE_LEASES_PER_TENANT;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIVE_LEASES_CEILING) {
    throw new Error(`maxLiveLeasesPerTenant must be a whole number from 1 to ${MAX_LIVE_LEASES_CEILING}, got ${value}.`);
  }
  return value;
}
