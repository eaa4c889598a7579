/**
 * The tenant's operations (workflow runs: plan changes, exports...), each in a partition of its own
 * (`OPERATION#<id>`), and the local scheduler's one-shot schedules (`SCHEDULE#<name>`) of the tenant's work.
 * Both carry `ownerTenantId` and are found through the byTenant index. Schedules hold only ids ("ids only,
 * never payloads"): they are not exported, and purge deletes them with the operations (schedules first, so a
 * purge cut short never leaves one whose operation is gone). On AWS schedules live in EventBridge Scheduler,
 * not in the table.
 *
 * An operation marked `erasureRecord` (a hard delete's: ids, trigger and times, no content) is the record of the
 * erasure itself: purge keeps it and counts it as retained (`retention`), everything else goes.
 */
import { OPERATION_SK, type Operation } from '../operations/operation-store';
import { SCHEDULE_SK } from '../scheduler/local-scheduler';
import { BY_TENANT_INDEX } from '../tenants/tenant-table';
import { deleteKeys, TenantIndexSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

/** The index attributes an operation carries while unfinished are storage, not the operation's data. */
const NOT_EXPORTED = ['type', 'state', 'stateChangedAt', BY_TENANT_INDEX.partitionKey];

/** The attribute that marks an operation kept by a hard delete (Operation.erasureRecord). */
const ERASURE_RECORD_ATTRIBUTE = 'erasureRecord' satisfies keyof Operation;

export class OperationsSource extends TenantIndexSource {
  readonly #options: TableSourceOptions;
  readonly retention = {
    basis: 'Hard-delete operations (ids, trigger, times, outcome) are the record of the erasure itself, kept to demonstrate it (GDPR Art. 5(2)); every other operation is deleted.',
  } as const;

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
    this.#options = options;
  }

  /** This tenant's items to erase (local schedules first, then operations) and how many erasure records are kept. */
  async #items(tenantId: string): Promise<{ erased: Record<string, unknown>[]; kept: number }> {
    const all = await this.keys(tenantId, [ERASURE_RECORD_ATTRIBUTE]);
    const erased = all.filter((item) => item[ERASURE_RECORD_ATTRIBUTE] !== true);
    return { erased, kept: all.length - erased.length };
  }

  override async purge(tenantId: string): Promise<{ readonly deleted: number; readonly retained: number }> {
    const { erased, kept } = await this.#items(tenantId);
    await deleteKeys(this.#options.client, this.#options.tableName, erased.map(({ pk, sk }) => ({ pk, sk })));
    return { deleted: erased.filter((item) => String(item.pk).startsWith('OPERATION#')).length, retained: kept };
  }

  /** Operations (erasure records aside) and local schedules left. */
  override async verifyPurged(tenantId: string): Promise<{ readonly remaining: number; readonly retained: number }> {
    const { erased, kept } = await this.#items(tenantId);
    return { remaining: erased.length, retained: kept };
  }
}
