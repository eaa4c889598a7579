/** The audit trail (`TENANT#<id>` / `AUDIT#<version>`): one append-only record per change of the tenant. */
import { AUDIT_SK_PREFIX, BY_STATE_INDEX } from '../tenants/tenant-table';
import { PartitionSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function auditSource(options: TableSourceOptions): PartitionSource {
  return new PartitionSource({
    ...options,
    name: 'audit',
    tableItems: [{ name: 'audit', pkPrefix: 'TENANT#', skPrefix: AUDIT_SK_PREFIX }],
    // A violation's entry also carries the byState index's attributes (it is listed across tenants): storage too.
    toRecord: (item) => withoutStorageAttributes(item, ['type', BY_STATE_INDEX.partitionKey, BY_STATE_INDEX.sortKey]),
    description: {
      summary: 'The audit trail in the lifecycle table (DynamoDB): one record per version of the tenant, oldest first, versions 1..n without a gap.',
      fields: {
        tenantId: 'The tenant id.',
        version: 'The tenant version this change made (1 is the creation).',
        at: 'When the change was made (ISO 8601, UTC).',
        actor: 'Who made it: the caller (token subject), a workflow or the scheduler.',
        event: 'What happened: a lifecycle event (create, suspend, resume, initiate_upgrade...) or a change that keeps the state (schedule_plan_change...).',
        from: 'The state before (null for the creation).',
        to: 'The state after.',
        reason: 'The reason given with the request, if any.',
        operationId: 'The operation (workflow) that made the change, if any.',
        stripeEventId: 'The Stripe event that caused the change, if any.',
        violation: 'On a compliance_violation entry: the deletion deadline missed (dueBy), when it was found (detectedAt), by how much (latenessSeconds) and by what (detectedBy).',
      },
    },
  });
}
