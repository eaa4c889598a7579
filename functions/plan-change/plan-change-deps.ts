/** The plan-change workflow's dependencies from configuration, created once per Lambda container. */
import { createBillingPort } from '../billing';
import { queryLeaseStore } from '../leases/query-lease-store';
import { OperationStore } from '../operations/operation-store';
import { planCatalog } from '../plans/plan-catalog';
import { LocalProvisioner } from '../provisioning/provisioner';
import { getDocumentClient } from '../shared/aws-clients';
import { config } from '../shared/config';
import { tenantStore } from '../tenants/tenant-service';
import type { PlanChangeDependencies } from './plan-change-steps';

let dependencies: PlanChangeDependencies | undefined;
let operations: OperationStore | undefined;

export function operationStore(): OperationStore {
  operations ??= new OperationStore({ client: getDocumentClient(), tableName: config.tableName });
  return operations;
}

export function planChangeDependencies(): PlanChangeDependencies {
  if (!dependencies) {
    const catalog = planCatalog(config.stripePriceIds);
    dependencies = {
      tenants: tenantStore(),
      operations: operationStore(),
      leases: queryLeaseStore(),
      // The Pinecone / usage-plan adapter is not built yet: resources are recorded, not created, on AWS too.
      provisioner: new LocalProvisioner({ client: getDocumentClient(), tableName: config.tableName }),
      billing: createBillingPort({
        stripeSecretKey: config.stripeSecretKey,
        priceIds: { free: catalog.free.stripePriceId ?? undefined, starter: catalog.starter.stripePriceId ?? undefined, professional: catalog.professional.stripePriceId ?? undefined, enterprise: catalog.enterprise.stripePriceId ?? undefined },
        client: getDocumentClient(),
        tableName: config.tableName,
      }),
    };
  }
  return dependencies;
}
