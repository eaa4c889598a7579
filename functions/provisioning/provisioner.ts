/**
 * The provisioning port: bring up a plan's resources before billing changes, and tear down what a rolled-back
 * or finished change leaves behind. Adapters: local (records what it provisioned in the lifecycle table) and,
 * on AWS, Pinecone + API Gateway usage plans (not built yet).
 */
import * as clock from '../shared/clock';
import { callWith } from '../shared/secret-value';
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tenantPk } from '../tenants/tenant-table';
import type { PlanResources } from './plan-resources';

export interface ResourceProvisioner {
  readonly name: string;
  /**
   * Provision `resources` for the operation, migrating the tenant's data from `current` when the placement
   * changes; idempotent per (tenant, operation). `current` is undefined for a tenant never provisioned.
   */
  provision(tenantId: string, operationId: string, resources: PlanResources, current?: PlanResources): Promise<void>;
  /** Release what `provision` brought up for the operation; idempotent, a no-op if nothing was provisioned. */
  release(tenantId: string, operationId: string): Promise<void>;
}

/** A provisioning failure worth retrying; the plan-change ASL retries on this name. */
export class ProvisioningTransientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProvisioningTransientError';
  }
}

/** Sort key prefix of a tenant's provisioned-resources items (one per plan change). */
export const PROVISIONED_SK_PREFIX = 'PROVISIONED#';

/** Local adapter: each provisioning is an item under the tenant, so tests can see exactly what is up. */
export class LocalProvisioner implements ResourceProvisioner {
  readonly name = 'local';
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async provision(tenantId: string, operationId: string, resources: PlanResources, _current?: PlanResources): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: { pk: tenantPk(tenantId), sk: `${PROVISIONED_SK_PREFIX}${operationId}`, type: 'provisioned', operationId, resources, at: clock.now().toISOString() },
      }),
    );
  }

  async release(tenantId: string, operationId: string): Promise<void> {
    await this.#client.send(new DeleteCommand({ TableName: this.#tableName, Key: { pk: tenantPk(tenantId), sk: `${PROVISIONED_SK_PREFIX}${operationId}` } }));
  }

  /** What operations still hold provisioned resources for the tenant (tests: nothing dangles after a rollback). */
  async outstanding(tenantId: string): Promise<Array<{ operationId: string; resources: PlanResources }>> {
    const { Items } = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': tenantPk(tenantId), ':prefix': PROVISIONED_SK_PREFIX },
        ConsistentRead: true,
      }),
    );
    return (Items ?? []).map((item) => ({ operationId: item.operationId as string, resources: item.resources as PlanResources }));
  }
}

/**
 * A provisioner built on first use (`resolve`, e.g. from onFirstUse): its SDK loaded, its key read, only when a
 * call needs them, so a function's cold start does not pay for them. Every call goes to the provisioner
 * `resolve` gives; `resolve`'s errors are the call's. When `resolve` is a SecretBacked (the key from Secrets
 * Manager), a call refused for its key is made once more with the key re-read (callWith).
 */
export class DeferredProvisioner implements ResourceProvisioner {
  readonly name: string;
  readonly #resolve: () => Promise<ResourceProvisioner>;

  constructor(name: string, resolve: () => Promise<ResourceProvisioner>) {
    this.name = name;
    this.#resolve = resolve;
  }

  async provision(tenantId: string, operationId: string, resources: PlanResources, current?: PlanResources): Promise<void> {
    return callWith(this.#resolve, (provisioner) => provisioner.provision(tenantId, operationId, resources, current));
  }

  async release(tenantId: string, operationId: string): Promise<void> {
    return callWith(this.#resolve, (provisioner) => provisioner.release(tenantId, operationId));
  }
}
