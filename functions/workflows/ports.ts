/**
 * The ports every workflow's steps use (the tenant and operation stores, query leases, provisioning, billing,
 * the scheduler and the workflow runner), built from configuration once per Lambda container.
 */
import { createBillingPort, type BillingPort } from '../billing';
import { SecretKeyStripeBilling } from '../billing/secret-billing';
import { queryLeaseStore } from '../leases/query-lease-store';
import { operationStore } from '../operations/operation-store';
import type { Pinecone, PineconeConfiguration } from '@pinecone-database/pinecone';
import { DynamoProvisioningLedger, PineconeProvisioner, isPineconeAuthenticationFailure } from '../provisioning/pinecone-provisioner';
import { DeferredProvisioner, LocalProvisioner, ProvisioningTransientError, type ResourceProvisioner } from '../provisioning/provisioner';
import { onFirstUse } from '../shared/on-first-use';
import { builtOnce, fromSecret, mapSecretBacked, type SecretBacked } from '../shared/secret-value';
import { logger } from '../shared/powertools';
import { getDocumentClient, getSecretsManager } from '../shared/aws-clients';
import { ConfigurationError, config } from '../shared/config';
import { tenantStore } from '../tenants/tenant-service';
import { LocalScheduler } from '../scheduler/local-scheduler';
import { DeferredScheduler, type SchedulerPort } from '../scheduler/scheduler-port';
import { workflowRunner, type WorkflowRunner } from './workflow-runner';
import type { OperationStore } from '../operations/operation-store';
import type { TenantStore } from '../tenants/tenant-store';

export { operationStore };

/** What a workflow's steps, the API routes that start workflows and the engine's handlers are given. */
export interface WorkflowPorts {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  /** Query leases: what a drain waits on, and revokes when an operator forces the change (functions/leases). */
  readonly leases: {
    liveLeases(tenantId: string): Promise<readonly { readonly leaseId: string; readonly holder?: string }[]>;
    release(tenantId: string, leaseId: string): Promise<boolean>;
  };
  readonly provisioner: ResourceProvisioner;
  readonly billing: BillingPort;
  readonly scheduler: SchedulerPort;
  /** Read at each use: the local stack and tests install theirs with setWorkflowRunner. */
  readonly runner: WorkflowRunner;
  readonly now?: () => Date;
}

/**
 * Makes a Pinecone client, loading the SDK first. Given by the functions that provision (workflow-deps.ts: the
 * workflow's Task, Timeout and Sweeper functions, and the local stack), so that the others (API routes, the
 * period-end target) do not bundle the Pinecone SDK, about 550 KB minified.
 */
export type PineconeClientFactory = (options: PineconeConfiguration) => Promise<Pinecone>;

let dependencies: WorkflowPorts | undefined;
let pineconeClient: PineconeClientFactory | undefined;

/**
 * Pinecone when configured (vectors really move between pooled and dedicated placement), with its key from
 * Secrets Manager (AWS) or the environment (local); else the local provisioner.
 */
function provisioner(): ResourceProvisioner {
  const settings = config.pinecone;
  if (!settings) {
    logger.warn('Provisioning with the local provisioner: no Pinecone key is configured, vectors are not moved');
    return new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });
  }
  if (!pineconeClient) throw new ConfigurationError(`${NO_PINECONE_SDK} provision.`);
  // Built by the first call: the Pinecone SDK is loaded then (see workflow-deps.ts), the key read then.
  const client = configuredPineconeClient((message, cause) => new ProvisioningTransientError(message, { cause })) as SecretBacked<Pinecone>;
  const state = new DynamoProvisioningLedger({ client: getDocumentClient(), tableName: config.tableName });
  // One provisioner per client: a new one when a rotated key made a new client.
  return new DeferredProvisioner(
    'pinecone',
    mapSecretBacked(client, (pinecone) => new PineconeProvisioner({ pinecone, dimension: settings.dimension, cloud: 'aws', region: settings.region, state })),
  );
}

const NO_PINECONE_SDK =
  'Pinecone is configured (PINECONE_SECRET_ARN or PINECONE_API_KEY) for a function that does not load the Pinecone SDK: only the functions using functions/workflows/workflow-deps.ts';

/**
 * The configured Pinecone's client, made on first use: the SDK loaded by the factory workflow-deps.ts gives, the
 * API key from PINECONE_API_KEY (local; one client per container) or read from the PINECONE_SECRET_ARN secret
 * (AWS; re-read after its max age, and once after Pinecone refuses it, a new client made when it changed: see
 * functions/shared/secret-value.ts). Undefined without Pinecone. The promise rejects with ConfigurationError in a
 * function that does not load the SDK, and with `unavailable(message, cause)` when the secret cannot be read (the
 * caller's retried error).
 */
export function configuredPineconeClient(unavailable: (message: string, cause: unknown) => Error): SecretBacked<Pinecone> | undefined {
  const pinecone = config.pinecone;
  if (!pinecone) return undefined;
  const make = async (apiKey: string): Promise<Pinecone> => {
    const client = pineconeClient;
    if (!client) throw new ConfigurationError(`${NO_PINECONE_SDK} reach Pinecone.`);
    return client({ apiKey, ...(pinecone.controllerUrl ? { controllerHostUrl: pinecone.controllerUrl } : {}) });
  };
  const apiKey = pinecone.apiKey;
  if (apiKey) return builtOnce(() => make(apiKey));
  return fromSecret({
    secretArn: pinecone.secretArn as string,
    secretsManager: getSecretsManager,
    holds: 'Pinecone API key',
    build: make,
    unavailable,
    isAuthFailure: isPineconeAuthenticationFailure,
  });
}

/** Stripe from Secrets Manager (AWS), Stripe from a key (local), or the local ledger. */
function billingPort(): BillingPort {
  const options = {
    priceIds: config.stripePriceIds,
    client: getDocumentClient(),
    tableName: config.tableName,
  };
  if (config.stripeSecretArn) {
    return new SecretKeyStripeBilling({
      secretArn: config.stripeSecretArn,
      secretsManager: getSecretsManager,
      create: (stripeSecretKey) => createBillingPort({ ...options, stripeSecretKey }),
    });
  }
  return createBillingPort({ ...options, stripeSecretKey: config.stripeSecretKey });
}

/**
 * EventBridge Scheduler when configured (AWS), else the local scheduler: schedules kept in the lifecycle
 * table, fired by the local stack's timer (which registers the targets' handlers).
 */
function scheduler(): SchedulerPort {
  const aws = config.scheduler;
  if (!aws) return new LocalScheduler({ client: getDocumentClient(), tableName: config.tableName });
  // The Scheduler SDK is loaded by the first call that needs it, not at cold init.
  return new DeferredScheduler(
    'eventbridge-scheduler',
    onFirstUse(async () => {
      const [{ SchedulerClient }, { EventBridgeScheduler }] = await Promise.all([import('@aws-sdk/client-scheduler'), import('../scheduler/eventbridge-scheduler')]);
      return new EventBridgeScheduler({
        client: new SchedulerClient({ region: config.region, endpoint: aws.endpoint }),
        groupName: aws.groupName,
        roleArn: aws.roleArn,
        deadLetterArn: aws.deadLetterArn,
        targetArns: aws.targetArns,
      });
    }),
  );
}

/**
 * Every workflow's ports, built once per container. The provisioner is built on first use, and the
 * workflow runner read at each use (the local stack and tests install theirs with setWorkflowRunner).
 * `pineconeClient`: how to make a Pinecone client, for the functions that provision (see workflow-deps.ts);
 * the first one given is kept. Without one, a function configured for Pinecone throws a ConfigurationError
 * when it first provisions.
 */
export function workflowPorts(options: { readonly pineconeClient?: PineconeClientFactory } = {}): WorkflowPorts {
  pineconeClient ??= options.pineconeClient;
  if (!dependencies) {
    let provisioning: ResourceProvisioner | undefined;
    dependencies = {
      tenants: tenantStore(),
      operations: operationStore(),
      leases: queryLeaseStore(),
      // Built on first use: only the workflow's functions provision, and only they are given its configuration.
      get provisioner() {
        provisioning ??= provisioner();
        return provisioning;
      },
      billing: billingPort(),
      scheduler: scheduler(),
      get runner() {
        return workflowRunner();
      },
    };
  }
  return dependencies;
}
