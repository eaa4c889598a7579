/** The plan-change workflow's dependencies from configuration, created once per Lambda container. */
import { createBillingPort, type BillingPort } from '../billing';
import { SecretKeyStripeBilling } from '../billing/secret-billing';
import { queryLeaseStore } from '../leases/query-lease-store';
import { OperationStore } from '../operations/operation-store';
import { Pinecone } from '@pinecone-database/pinecone';
import { DynamoProvisioningLedger, PineconeProvisioner } from '../provisioning/pinecone-provisioner';
import { LocalProvisioner, type ResourceProvisioner } from '../provisioning/provisioner';
import { logger } from '../shared/powertools';
import { getDocumentClient, getSecretsManager } from '../shared/aws-clients';
import { config } from '../shared/config';
import { tenantStore } from '../tenants/tenant-service';
import type { PlanChangeDependencies } from './plan-change-steps';

let dependencies: PlanChangeDependencies | undefined;
let operations: OperationStore | undefined;

export function operationStore(): OperationStore {
  operations ??= new OperationStore({ client: getDocumentClient(), tableName: config.tableName });
  return operations;
}

/** Pinecone when configured (vectors really move between pooled and dedicated placement), else the local one. */
function provisioner(): ResourceProvisioner {
  const pinecone = config.pinecone;
  if (!pinecone) {
    logger.warn('Provisioning with the local provisioner: no PINECONE_API_KEY is configured, vectors are not moved');
    return new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName });
  }
  return new PineconeProvisioner({
    pinecone: new Pinecone({ apiKey: pinecone.apiKey, ...(pinecone.controllerUrl ? { controllerHostUrl: pinecone.controllerUrl } : {}) }),
    dimension: pinecone.dimension,
    cloud: 'aws',
    region: pinecone.region,
    state: new DynamoProvisioningLedger({ client: getDocumentClient(), tableName: config.tableName }),
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
      secretsManager: getSecretsManager(),
      create: (stripeSecretKey) => createBillingPort({ ...options, stripeSecretKey }),
    });
  }
  return createBillingPort({ ...options, stripeSecretKey: config.stripeSecretKey });
}

export function planChangeDependencies(): PlanChangeDependencies {
  if (!dependencies) {
    dependencies = {
      tenants: tenantStore(),
      operations: operationStore(),
      leases: queryLeaseStore(),
      provisioner: provisioner(),
      billing: billingPort(),
    };
  }
  return dependencies;
}
