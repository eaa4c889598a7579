/**
 * The tenant's operations (workflow runs: plan changes, exports...), each in a partition of its own
 * (`OPERATION#<id>`), and the local scheduler's one-shot schedules (`SCHEDULE#<name>`) of the tenant's work.
 * Both carry `ownerTenantId` and are found through the byTenant index. Schedules hold only ids ("ids only,
 * never payloads"): they are not exported, and purge deletes them with the operations (schedules first, so a
 * purge cut short never leaves one whose operation is gone). On AWS schedules live in EventBridge Scheduler,
 * not in the table.
 */
import { OPERATION_SK } from '../operations/operation-store';
import { SCHEDULE_SK } from '../scheduler/local-scheduler';
import { BY_TENANT_INDEX } from '../tenants/tenant-table';
import { TenantIndexSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

/** The index attributes an operation carries while unfinished are storage, not the operation's data. */
const NOT_EXPORTED = ['type', 'state', 'stateChangedAt', BY_TENANT_INDEX.partitionKey];

export class OperationsSource extends TenantIndexSource {
  constructor(options: TableSourceOptions) {
    super({
      ...options,
      name: 'operations',
      tableItems: [{ name: 'operation', pkPrefix: 'OPERATION#', sk: OPERATION_SK }],
      // The embedded stack's pending schedules of the tenant's work: they go with the tenant's operations.
      purgeOnly: [{ name: 'local schedule', pkPrefix: 'SCHEDULE#', sk: SCHEDULE_SK }],
      toRecord: (item) => withoutStorageAttributes(item, NOT_EXPORTED),
      description: {
        summary: 'The tenant\'s operations in the lifecycle table (DynamoDB): one record per workflow run (plan change, export...), with its steps and outcome.',
        fields: {
          operationId: 'The operation id.',
          tenantId: 'The tenant id.',
          workflow: 'Which workflow ran (plan-change, export...).',
          status: 'scheduled, running, compensating, succeeded, rolled_back or cancelled.',
          input: 'What was asked (for a plan change: the plan, direction, timing, drain timeout in seconds).',
          steps: 'The steps done, in order.',
          facts: 'What the steps learned (billing change with amounts in the currency\'s minor unit, placements...).',
          error: 'Why it rolled back or was cancelled, if it did.',
          effectiveAt: 'For a scheduled change: when it takes effect (ISO 8601, UTC).',
          requestedBy: 'Who asked for it (token subject).',
          createdAt: 'When it was created (ISO 8601, UTC).',
          updatedAt: 'When it last changed (ISO 8601, UTC).',
          finishedAt: 'When it ended (ISO 8601, UTC).',
        },
      },
    });
  }
}
