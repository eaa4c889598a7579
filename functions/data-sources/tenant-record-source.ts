/**
 * The tenant record (`TENANT#<id>` / `TENANT`): who the tenant is, its plan, state and billing references.
 * A hard delete does not delete the item: the lifecycle needs it to the end (the tenant's state and version,
 * the claim of the running hard delete, the billing customer to delete), so purge keeps it (`retention`), and
 * the hard delete's last step turns it into the tombstone (TOMBSTONE_FIELDS, functions/tenants/tenant-store.ts)
 * in the same transaction as `complete_deletion` and the certificate: its personal fields are removed then.
 */
import { TENANT_SK } from '../tenants/tenant-table';
import { PartitionSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

/** Attributes of the tenant item that another source exports (usage: ./usage-source.ts) or that are storage. */
const NOT_EXPORTED = ['type', 'usage', 'usageMeasuredAt', 'usageReport'];

export function tenantRecordSource(options: TableSourceOptions): PartitionSource {
  return new PartitionSource({
    ...options,
    name: 'tenant',
    tableItems: [{ name: 'tenant', pkPrefix: 'TENANT#', sk: TENANT_SK }],
    toRecord: (item) => withoutStorageAttributes(item, NOT_EXPORTED),
    retention: {
      basis:
        'Only the tombstone is kept: the tenant id, state deleted, version, creation and deletion times, the soft delete\'s record and the certificate id, so the deletion can be proven and is not repeated (GDPR Art. 5(2)); every other field (name, email, plan, usage, billing references, resources) is removed when the deletion completes.',
    },
    description: {
      summary: 'The tenant record in the lifecycle table (DynamoDB): one record, the tenant as it is now. Its usage figures are in the usage source.',
      fields: {
        tenantId: 'The tenant id (lowercase letters, digits and dashes).',
        name: 'The organisation name given at sign-up.',
        email: 'The contact email address.',
        plan: 'The plan: free, starter, professional or enterprise.',
        state: 'The lifecycle state (active, suspended, upgrading, downgrading, exporting, reactivating, deleting, deleted).',
        origin: 'For a transitional state: the state it returns to.',
        operationId: 'The operation that owns a transitional state.',
        readOnlyReason: 'Why the tenant is read-only, while it is.',
        resources: 'What is provisioned for the plan: limits (counts, storage in GB, -1 unlimited), request rate (requests per second), vector placement (index and namespace).',
        billing: 'Stripe references: customerId, subscriptionId, subscriptionItemId.',
        scheduledPlanChange: 'A plan change waiting for the end of the billing period: operationId, plan, effectiveAt (ISO 8601).',
        version: 'The record version: 1 at creation, plus one per change (each change has an audit record).',
        createdAt: 'When the tenant was created (ISO 8601, UTC).',
        updatedAt: 'When the record last changed (ISO 8601, UTC).',
        stateChangedAt: 'When the tenant entered its current state (ISO 8601, UTC).',
        deletedAt: 'Once deleted: when the hard delete completed (ISO 8601, UTC).',
        deletionCertificateId: 'Once deleted: the id of its deletion certificate.',
      },
    },
  });
}
