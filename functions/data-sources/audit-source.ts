/**
 * The audit trail (`TENANT#<id>` / `AUDIT#<version>`): one append-only record per change of the tenant, and
 * once the tenant is deleted its deletion certificate (`TENANT#<id>` / `DELETION_CERTIFICATE`), and the purge
 * certificate of each reactivation that started fresh (`PURGE_CERTIFICATE#<operationId>`), and the certificates of
 * earlier deletions of a tenant that came back (`ARCHIVED_DELETION_CERTIFICATE#<certificateId>`). A hard delete
 * keeps both (`retention`): they are the controller's proof of what was done to the data and when (GDPR
 * Art. 5(2) accountability, Art. 17(3)(e)), and name actors, events and times, not the tenant's content.
 */
import { ARCHIVED_CERTIFICATE_SK_PREFIX, DELETION_CERTIFICATE_SK, PURGE_CERTIFICATE_SK_PREFIX } from '../deletion/deletion-certificate';
import { AUDIT_SK_PREFIX, BY_STATE_INDEX } from '../tenants/tenant-table';
import { PartitionSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function auditSource(options: TableSourceOptions): PartitionSource {
  return new PartitionSource({
    ...options,
    name: 'audit',
    tableItems: [
      { name: 'audit', pkPrefix: 'TENANT#', skPrefix: AUDIT_SK_PREFIX },
      { name: 'deletion certificate', pkPrefix: 'TENANT#', sk: DELETION_CERTIFICATE_SK },
      { name: 'archived deletion certificate', pkPrefix: 'TENANT#', skPrefix: ARCHIVED_CERTIFICATE_SK_PREFIX },
      { name: 'purge certificate', pkPrefix: 'TENANT#', skPrefix: PURGE_CERTIFICATE_SK_PREFIX },
    ],
    retention: {
      basis:
        'The audit trail and the deletion certificate are the record of what was done to the tenant and its data, kept to demonstrate compliance (GDPR Art. 5(2) accountability, Art. 17(3)(e)); they hold events, actors, times and counts, not the tenant\'s content.',
    },
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
        stripeEventType: "That Stripe event's type (invoice.payment_failed...), if any.",
        violation: 'On a compliance_violation entry: the deletion deadline missed (dueBy), when it was found (detectedAt), by how much (latenessSeconds) and by what (detectedBy).',
        forced: 'On the entries of a plan change an operator forced: true (it revoked the tenant\'s live query leases instead of waiting for them).',
        reactivationPath: 'On a reactivation entry: which data the tenant came back with: resume (suspended, its data), restore (soft-deleted, its data as kept) or fresh_start (none of the old data).',
      },
    },
  });
}
