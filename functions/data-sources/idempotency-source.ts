/**
 * Idempotency records (`IDEMPOTENCY#<role>:<tenant>:<subject>#<key>` / `IDEMPOTENCY`): the first answer to a
 * request sent with an Idempotency-Key, kept 24 hours for retries (expiry by DynamoDB TTL on `expiresAt`).
 * A tenant's records are those its own tokens made (scope `tenant:<id>:`, the colon keeping `acme` from
 * `acme-eu`). Records made by operator tokens are the operator's: they name no tenant in their key and expire
 * within 24 hours, so a hard delete's verification a day later finds none.
 */
import { IDEMPOTENCY_PK_PREFIX, IDEMPOTENCY_SK } from '../shared/http/idempotency';
import { BY_TENANT_INDEX } from '../tenants/tenant-table';
import { TenantIndexSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function idempotencySource(options: TableSourceOptions): TenantIndexSource {
  return new TenantIndexSource({
    ...options,
    name: 'idempotency',
    tableItems: [{ name: 'idempotency record', pkPrefix: IDEMPOTENCY_PK_PREFIX, sk: IDEMPOTENCY_SK }],
    toRecord: (item) => ({ key: String(item.pk).slice(IDEMPOTENCY_PK_PREFIX.length), ...withoutStorageAttributes(item, ['type', BY_TENANT_INDEX.partitionKey]) }),
    description: {
      summary:
        'Answers kept for retries of requests the tenant\'s own tokens sent with an Idempotency-Key, in the lifecycle table (DynamoDB); each expires 24 hours after the request.',
      fields: {
        key: '<role>:<tenant>:<token subject>#<Idempotency-Key header>.',
        status: 'IN_PROGRESS or COMPLETED.',
        fingerprint: 'SHA-256 (hex) of the route, path, query, If-Match and body of the first request.',
        response: 'The first answer: statusCode, headers, body.',
        lockedUntil: 'Until when an unfinished request holds the key (seconds since 1970-01-01 UTC).',
        expiresAt: 'When DynamoDB removes the record (seconds since 1970-01-01 UTC).',
      },
    },
  });
}
