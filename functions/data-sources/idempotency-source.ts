/**
 * Idempotency records (functions/shared/idempotency.ts, Powertools' DynamoDB persistence layer): the first answer
 * to a request sent with an Idempotency-Key (`sk=API#<hash>`, kept 24 hours) and the outcome of each Stripe event
 * applied to the tenant (`sk=STRIPE_EVENT#<hash>`, kept 30 days), expiring through DynamoDB TTL on `expiresAt`.
 * Each is in the partition of the tenant whose data it holds, `IDEMPOTENCY#<tenantId>`, whoever made the request
 * (an operator acting on the tenant, or the tenant's own token): one Query of that exact partition finds them,
 * so `acme` never reads `acme-eu`'s. Records about no tenant (`IDEMPOTENCY#_platform`) belong to no tenant.
 */
import { STRIPE_EVENT_RECORD_KIND } from '../dunning/stripe-event-records';
import { IDEMPOTENCY_ATTRIBUTES, IDEMPOTENCY_PK_PREFIX, idempotencyPartition } from '../shared/idempotency';
import { PartitionSource, withoutStorageAttributes, type TableSourceOptions } from './table-source';

export function idempotencySource(options: TableSourceOptions): PartitionSource {
  return new PartitionSource({
    ...options,
    name: 'idempotency',
    tableItems: [{ name: 'idempotency record', pkPrefix: IDEMPOTENCY_PK_PREFIX }],
    partitionOf: idempotencyPartition,
    toRecord: (item) => ({ kind: String(item.sk).startsWith(`${STRIPE_EVENT_RECORD_KIND}#`) ? 'stripe-event' : 'request', ...withoutStorageAttributes(item) }),
    description: {
      summary:
        "Answers kept for retries of requests about the tenant sent with an Idempotency-Key (24 hours), and the outcomes of the Stripe events applied to it (30 days), in the lifecycle table (DynamoDB, Powertools' idempotency records).",
      fields: {
        kind: 'request (an Idempotency-Key) or stripe-event.',
        [IDEMPOTENCY_ATTRIBUTES.status]: 'INPROGRESS or COMPLETED.',
        [IDEMPOTENCY_ATTRIBUTES.response]: "The first answer (a request's statusCode, headers and body; a Stripe event's outcome).",
        [IDEMPOTENCY_ATTRIBUTES.requestHash]: 'SHA-256 (base64) of the first request: route, path, query, If-Match and body; requests only.',
        [IDEMPOTENCY_ATTRIBUTES.lockedUntilMs]: 'Until when an unfinished request holds the key (milliseconds since 1970-01-01 UTC).',
        expiresAt: 'When DynamoDB removes the record (seconds since 1970-01-01 UTC).',
      },
    },
  });
}
