/**
 * The other items of the tenant's partition that are the control plane's bookkeeping: query leases, what was
 * provisioned for the tenant's plan, and where its vectors were placed by each plan change.
 */
import { LEASE_SK_PREFIX, LEASE_SLOT_SK_PREFIX } from '../leases/query-lease-store';
import { PROVISIONED_SK_PREFIX } from '../provisioning/provisioner';
import { PINECONE_SK_PREFIX } from '../provisioning/pinecone-provisioner';
import { EXPORT_REQUEST_SK_PREFIX } from '../export/export-definition';
import { PartitionSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function tenantItemsSource(options: TableSourceOptions): PartitionSource {
  return new PartitionSource({
    ...options,
    name: 'tenant-items',
    tableItems: [
      { name: 'query lease', pkPrefix: 'TENANT#', skPrefix: LEASE_SK_PREFIX },
      { name: 'query lease slot', pkPrefix: 'TENANT#', skPrefix: LEASE_SLOT_SK_PREFIX },
      { name: 'provisioned resources', pkPrefix: 'TENANT#', skPrefix: PROVISIONED_SK_PREFIX },
      { name: 'vector placement', pkPrefix: 'TENANT#', skPrefix: PINECONE_SK_PREFIX },
      { name: 'export request', pkPrefix: 'TENANT#', skPrefix: EXPORT_REQUEST_SK_PREFIX },
    ],
    toRecord: (item) => ({ kind: item.type, ...withoutStorageAttributes(item, ['type']) }),
    description: {
      summary:
        'Bookkeeping items of the tenant in the lifecycle table (DynamoDB), one record each: query leases (taken by the application while it runs a query; they expire) and the slots of the cap on them, the resources provisioned by each plan change, where each plan change placed the tenant\'s vectors, and the register of its export requests.',
      fields: {
        kind: 'lease, lease-slot, provisioned, pinecone-provisioning or export-request.',
        leaseId: 'lease: the lease id; lease-slot: the lease holding the slot.',
        slot: 'lease, lease-slot: which slot of the cap on live leases (MAX_LIVE_LEASES_PER_TENANT) the lease holds, from 0.',
        holder: 'lease: who took it (the application instance).',
        acquiredAt: 'lease: when it was taken (ISO 8601, UTC).',
        leaseExpiresAt: 'lease, lease-slot: when the lease stops counting, and frees its slot (milliseconds since 1970-01-01 UTC).',
        expiresAt: 'lease, lease-slot: when DynamoDB may remove the item (seconds since 1970-01-01 UTC, 300 s after leaseExpiresAt).',
        operationId: 'provisioned: the plan change that provisioned the resources.',
        resources: 'provisioned: limits (counts, storage in GB, -1 unlimited), request rate (requests per second) and vector placement.',
        at: 'provisioned: when (ISO 8601, UTC).',
        exportId: 'export-request: the export (its operation id).',
        requestedAt: 'export-request: when the export was requested (ISO 8601, UTC).',
        dueAt: 'export-request: when the answer is due, one month later (GDPR Art. 12(3)).',
        requestedBy: 'export-request: who asked for it (token subject).',
        record: 'pinecone-provisioning: placement (index, namespace), what releasing it deletes (index, namespace or nothing), whether the operation created the index, and when (ISO 8601).',
      },
    },
  });
}
