/**
 * The tenant's operations (workflow runs: plan changes, exports...), each in a partition of its own
 * (`OPERATION#<id>`), and the local scheduler's one-shot schedules (`SCHEDULE#<name>`) that fire them.
 * Schedules hold only the operation id ("ids only, never payloads"): they are not exported, and purge deletes a
 * schedule with the operation it fires (schedules first, so a purge cut short never leaves one whose operation
 * is gone). On AWS schedules live in EventBridge Scheduler, not in the table.
 *
 * An operation marked `erasureRecord` (a hard delete's: ids, trigger and times, no content) is the record of the
 * erasure itself: purge keeps it and counts it as retained (`retention`), everything else goes.
 */
import { OPERATION_SK, type Operation } from '../operations/operation-store';
import { SCHEDULE_SK } from '../scheduler/local-scheduler';
import { deleteKeys, ScanSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DataSource } from './data-source';

/** The index attributes an operation carries while unfinished are storage, not the operation's data. */
const NOT_EXPORTED = ['type', 'state', 'stateChangedAt'];
/** A Scan filter's IN takes at most 100 operands. */
const IN_LIMIT = 100;

/** The attribute that marks an operation kept by a hard delete (Operation.erasureRecord). */
const ERASURE_RECORD_ATTRIBUTE = 'erasureRecord' satisfies keyof Operation;

export class OperationsSource extends ScanSource implements DataSource {
  readonly #options: TableSourceOptions;
  readonly retention = {
    basis: 'Hard-delete operations (ids, trigger, times, outcome) are the record of the erasure itself, kept to demonstrate it (GDPR Art. 5(2)); every other operation is deleted.',
  } as const;

  constructor(options: TableSourceOptions) {
    super({
      ...options,
      name: 'operations',
      tableItems: [
        { name: 'operation', pkPrefix: 'OPERATION#', sk: OPERATION_SK },
        { name: 'local schedule', pkPrefix: 'SCHEDULE#', sk: SCHEDULE_SK },
      ],
      filter: (tenantId) => ({
        FilterExpression: 'begins_with(pk, :operation) AND sk = :operationSk AND tenantId = :tenantId',
        ExpressionAttributeValues: { ':operation': 'OPERATION#', ':operationSk': OPERATION_SK, ':tenantId': tenantId },
      }),
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

  /** Keys of the local schedules that fire any of `operationIds`. */
  async #scheduleKeys(operationIds: readonly string[]): Promise<Record<string, unknown>[]> {
    const keys: Record<string, unknown>[] = [];
    for (let i = 0; i < operationIds.length; i += IN_LIMIT) {
      const batch = operationIds.slice(i, i + IN_LIMIT);
      const values = Object.fromEntries(batch.map((id, n) => [`:op${n}`, id]));
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.#options.client.send(
          new ScanCommand({
            TableName: this.#options.tableName,
            ConsistentRead: true,
            ProjectionExpression: 'pk, sk',
            FilterExpression: `begins_with(pk, :schedule) AND sk = :scheduleSk AND payload.operationId IN (${Object.keys(values).join(', ')})`,
            ExpressionAttributeValues: { ':schedule': 'SCHEDULE#', ':scheduleSk': SCHEDULE_SK, ...values },
            ExclusiveStartKey: startKey,
          }),
        );
        keys.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return keys;
  }

  /** This tenant's operations: those to erase, and the erasure records kept. */
  async #operations(tenantId: string): Promise<{ erased: Record<string, unknown>[]; kept: number }> {
    const all = await this.keys(tenantId, ['operationId', ERASURE_RECORD_ATTRIBUTE]);
    const erased = all.filter((item) => item[ERASURE_RECORD_ATTRIBUTE] !== true);
    return { erased, kept: all.length - erased.length };
  }

  override async purge(tenantId: string): Promise<{ readonly deleted: number; readonly retained: number }> {
    const { erased, kept } = await this.#operations(tenantId);
    const schedules = await this.#scheduleKeys(erased.map((item) => String(item.operationId)));
    await deleteKeys(this.#options.client, this.#options.tableName, schedules);
    const deleted = await deleteKeys(this.#options.client, this.#options.tableName, erased.map(({ pk, sk }) => ({ pk, sk })));
    return { deleted, retained: kept };
  }

  /** Operations left (erasure records aside), plus schedules left that fire one of them (purge deletes schedules first). */
  override async verifyPurged(tenantId: string): Promise<{ readonly remaining: number; readonly retained: number }> {
    const { erased, kept } = await this.#operations(tenantId);
    const schedules = await this.#scheduleKeys(erased.map((item) => String(item.operationId)));
    return { remaining: erased.length + schedules.length, retained: kept };
  }
}
