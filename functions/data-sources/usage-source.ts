/**
 * Usage: what the application plane last reported for the tenant (`PUT /tenants/{id}/usage`). The lifecycle
 * table keeps only the latest report, as attributes of the tenant item (`usage`, `usageMeasuredAt`, `usageReport`): reports
 * replace each other and are not in the audit trail. So this source holds at most one record, and purging it
 * removes those attributes (the item itself is the tenant source's).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TENANT_SK, tenantPk } from '../tenants/tenant-table';
import { decodeSourceCursor } from './cursor';
import type { DataPage, DataRecord, DataSource } from './data-source';
import type { TableSourceOptions } from './table-source';
import * as z from 'zod';

export class UsageSource implements DataSource {
  readonly name = 'usage';
  readonly description = {
    summary:
      'The latest usage the application reported for the tenant, kept on the tenant record in the lifecycle table (DynamoDB); each report replaces the one before, so there is at most one record.',
    fields: {
      queriesPerMonth: 'Queries in the current month (count).',
      storageGb: 'Storage used (gigabytes, 3 decimals).',
      documents: 'Documents stored (count).',
      users: 'Users (count).',
      measuredAt: 'When the application measured it (ISO 8601, UTC); absent when the figures were given at sign-up.',
      reportedBy: 'Who reported it: operator (a correction) or tenant (the application, with its tenant token); absent for the figures given at sign-up.',
      heldUntil: "An operator's correction: until when the application's own reports were not applied over it (ISO 8601, UTC).",
    },
  } as const;
  readonly #options: TableSourceOptions;

  constructor(options: TableSourceOptions) {
    this.#options = options;
  }

  async #read(tenantId: string): Promise<DataRecord | undefined> {
    const { Item } = await this.#options.client.send(
      new GetCommand({ TableName: this.#options.tableName, Key: { pk: tenantPk(tenantId), sk: TENANT_SK }, ProjectionExpression: '#usage, usageMeasuredAt, usageReport', ExpressionAttributeNames: { '#usage': 'usage' }, ConsistentRead: true }),
    );
    if (!Item?.usage) return undefined;
    const report = Item.usageReport as { by?: string; heldUntil?: string } | undefined;
    return {
      ...(Item.usage as Record<string, unknown>),
      ...(Item.usageMeasuredAt ? { measuredAt: Item.usageMeasuredAt } : {}),
      ...(report?.by ? { reportedBy: report.by } : {}),
      ...(report?.heldUntil ? { heldUntil: report.heldUntil } : {}),
    };
  }

  async count(tenantId: string): Promise<number> {
    return (await this.#read(tenantId)) ? 1 : 0;
  }

  /** One page holds the only record; a cursor is never issued, so any cursor is refused. */
  async exportPage(tenantId: string, cursor: string | null, limit: number): Promise<DataPage> {
    if (cursor !== null) decodeSourceCursor(this.name, tenantId, cursor, z.never());
    void limit; // at most one record: it always fits
    const record = await this.#read(tenantId);
    return { records: record ? [record] : [], nextCursor: null };
  }

  async purge(tenantId: string): Promise<{ readonly deleted: number }> {
    try {
      await this.#options.client.send(
        new UpdateCommand({
          TableName: this.#options.tableName,
          Key: { pk: tenantPk(tenantId), sk: TENANT_SK },
          UpdateExpression: 'REMOVE #usage, usageMeasuredAt, usageReport',
          ConditionExpression: 'attribute_exists(#usage)',
          ExpressionAttributeNames: { '#usage': 'usage' },
        }),
      );
      return { deleted: 1 };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { deleted: 0 }; // nothing there (or no tenant)
      throw error;
    }
  }

  async verifyPurged(tenantId: string): Promise<{ readonly remaining: number }> {
    return { remaining: await this.count(tenantId) };
  }
}
