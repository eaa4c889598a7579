/**
 * Lifecycle events: every audit item a tenant change writes (in the same transaction as the change) becomes one
 * published event, read from the table's stream after the transaction committed. This file is the contract:
 * the event source, one stable `detail-type` per audit event (generated from the lifecycle table, `create` and
 * the CHANGE_EVENTS), and the versioned schema of `detail`; `publishStreamRecords` turns stream records into
 * events and hands them to a sink (EventBridge on AWS, the local event log in the embedded stack).
 *
 * Delivery is at least once: a record whose event was not accepted is reported as a batch item failure, and
 * everything from it on is delivered again. Consumers deduplicate on `detail.id` (`<tenantId>#<version>`, the
 * audit item's key) and order one tenant's events by `detail.version` (1, 2, 3… without a gap).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod';
import { LIFECYCLE_EVENTS, TENANT_STATES } from '../lifecycle';
import { REACTIVATION_PATHS } from '../reactivation/reactivation-definition';
import { CHANGE_EVENTS, CREATE_EVENT, type AuditEvent } from '../tenants/tenant-store';
import { AUDIT_ITEM_TYPE } from '../tenants/tenant-table';

/** The `source` of every lifecycle event. */
export const EVENT_SOURCE = 'tenant-lifecycle';

/** The version of the `detail` schema; a change that is not backwards compatible gets a new one. */
export const DETAIL_SCHEMA_VERSION = 1;

/** Every event an audit item may name, in the lifecycle table's order, then `create`, then the CHANGE_EVENTS. */
export const AUDIT_EVENTS: readonly AuditEvent[] = [CREATE_EVENT, ...LIFECYCLE_EVENTS, ...Object.values(CHANGE_EVENTS)];

/** The `detail-type` of an audit event's lifecycle event: `tenant.<event>` (e.g. `tenant.suspend`); stable. */
export function detailType(event: AuditEvent): string {
  return `tenant.${event}`;
}

/** Every `detail-type` the control plane publishes, one per audit event (README, "Lifecycle events"). */
export const DETAIL_TYPES: readonly string[] = AUDIT_EVENTS.map(detailType);

const state = z.enum(TENANT_STATES);
const text = z.string().min(1);

/**
 * The `detail` of a lifecycle event, version 1: the audit item's fields, nothing more (no name or email of the
 * tenant). `lifecycle-event.schema.json` beside this file is this schema as JSON Schema (test/unit/lifecycle-events.test.ts
 * checks that it is current).
 */
export const lifecycleEventDetailSchema = z
  .object({
    schemaVersion: z.literal(DETAIL_SCHEMA_VERSION).describe('The version of this schema.'),
    id: text.describe('`<tenantId>#<version>`: the audit item this event publishes; the key to deduplicate on (an event may be delivered more than once).'),
    tenantId: text,
    version: z.number().int().min(1).describe("The tenant's version after this change: 1, 2, 3… without a gap; order one tenant's events by it."),
    event: z.enum(AUDIT_EVENTS as [AuditEvent, ...AuditEvent[]]).describe('The audit event (the detail-type is `tenant.<event>`).'),
    from: state.nullable().describe('The state before (null for `create`).'),
    to: state.describe('The state after (equal to `from` for changes that keep the state).'),
    at: z.iso.datetime().describe('When the change committed (ISO 8601, UTC).'),
    actor: text.describe("Who made the change: the token's subject, or the workflow's requester."),
    reason: z.string().optional(),
    operationId: text.optional().describe('The workflow operation that made the change, if any.'),
    stripeEventId: text.optional().describe('The Stripe event that caused the change, if any.'),
    stripeEventType: text.optional().describe("That Stripe event's type (`invoice.payment_failed`...), if any."),
    violation: z
      .object({
        kind: z.literal('hard_delete_late'),
        dueBy: z.iso.datetime(),
        detectedAt: z.iso.datetime(),
        latenessSeconds: z.number().int().min(0),
        detectedBy: z.enum(['hard-delete', 'enforcement-check', 'sweeper']),
      })
      .strict()
      .optional()
      .describe('On `compliance_violation`: the deadline missed, and by how much.'),
    reactivationPath: z
      .enum(REACTIVATION_PATHS)
      .optional()
      .describe('On a reactivation\'s events (`resume`, `cancel_deletion`, `reactivate_deleted`, `complete_reactivation`, `fail_reactivation`): which data the tenant comes back with: `resume` (suspended, its data), `restore` (soft-deleted, its data as kept) or `fresh_start` (none of the old data).'),
    forced: z.literal(true).optional().describe('On the events of a plan change an operator forced (`"force": true`): it revoked the tenant\'s live query leases instead of waiting for them.'),
  })
  .strict();
export type LifecycleEventDetail = z.infer<typeof lifecycleEventDetailSchema>;

/** The audit fields copied into `detail`; any other attribute of the item (keys, index attributes) stays out. */
const DETAIL_FIELDS = ['tenantId', 'version', 'event', 'from', 'to', 'at', 'actor', 'reason', 'operationId', 'stripeEventId', 'stripeEventType', 'violation', 'reactivationPath', 'forced'] as const;

/** The deduplication key of an audit item's event: `<tenantId>#<version>`. */
export function eventId(tenantId: string, version: number): string {
  return `${tenantId}#${version}`;
}

/**
 * The `detail` of the event an audit item publishes, validated. Throws a ZodError for an item that does not
 * make a valid detail (its record is then reported failed, retried, and dead-lettered on AWS).
 */
export function auditItemDetail(item: Readonly<Record<string, unknown>>): LifecycleEventDetail {
  const detail: Record<string, unknown> = { schemaVersion: DETAIL_SCHEMA_VERSION, id: eventId(String(item.tenantId), Number(item.version)) };
  for (const field of DETAIL_FIELDS) if (item[field] !== undefined) detail[field] = item[field];
  if (!('from' in detail)) detail.from = null;
  return lifecycleEventDetailSchema.parse(detail);
}

/**
 * The stream filter that lets only new audit items through (a Lambda event source mapping's filter criteria;
 * https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html). `isAuditInsert` is the same test in code.
 */
export const AUDIT_INSERT_FILTER = { eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: [AUDIT_ITEM_TYPE] } } } } as const;

/** A DynamoDB stream record, as Lambda delivers it and as DynamoDB Streams' GetRecords answers it. */
export interface StreamRecord {
  readonly eventName?: string;
  readonly dynamodb?: { readonly SequenceNumber?: string; readonly NewImage?: Record<string, unknown> };
}

/** Whether `record` is an audit item written (the only records that publish an event). */
export function isAuditInsert(record: StreamRecord): boolean {
  const type = record.dynamodb?.NewImage?.type as { S?: string } | undefined;
  return record.eventName === 'INSERT' && type?.S === AUDIT_ITEM_TYPE;
}

/**
 * Where events go. `put` answers, for each event given (in order), whether it was accepted; it throws only when
 * none can have been (then every one is retried).
 */
export interface EventSink {
  put(details: readonly LifecycleEventDetail[]): Promise<readonly boolean[]>;
}

/** Lambda's partial batch response for stream sources: the first record not published, and every one after it is retried. */
export interface BatchResponse {
  readonly batchItemFailures: Array<{ readonly itemIdentifier: string }>;
}

/**
 * Publish the events of the audit items among `records` (in order) to `sink`, in slices of `sliceSize`
 * (EventBridge PutEvents takes 10 entries). Answers the records not published: the first record that failed
 * (an event not accepted, or an item that is not a valid event), by its sequence number. Nothing after it is
 * sent: Lambda (and the local poller) deliver the batch again from that record, so one tenant's events are
 * handed over in version order and none is lost; the ones already accepted before it are not sent again,
 * those accepted in the same slice after it are (at least once: consumers deduplicate on `detail.id`).
 */
export async function publishStreamRecords(records: readonly StreamRecord[], sink: EventSink, options: { readonly sliceSize?: number; readonly onInvalid?: (error: unknown, record: StreamRecord) => void } = {}): Promise<BatchResponse> {
  const sliceSize = options.sliceSize ?? 10;
  const pending: Array<{ record: StreamRecord; detail: LifecycleEventDetail }> = [];
  let invalid: StreamRecord | undefined;
  for (const record of records) {
    if (!isAuditInsert(record)) continue;
    try {
      pending.push({ record, detail: auditItemDetail(unmarshall(record.dynamodb?.NewImage as Record<string, AttributeValue>)) });
    } catch (error) {
      options.onInvalid?.(error, record);
      invalid = record;
      break;
    }
  }
  for (let start = 0; start < pending.length; start += sliceSize) {
    const slice = pending.slice(start, start + sliceSize);
    let accepted: readonly boolean[];
    try {
      accepted = await sink.put(slice.map((entry) => entry.detail));
    } catch {
      accepted = [];
    }
    const failed = slice.findIndex((_, index) => accepted[index] !== true);
    if (failed >= 0) return failure(slice[failed]?.record as StreamRecord);
  }
  return invalid ? failure(invalid) : { batchItemFailures: [] };
}

function failure(record: StreamRecord): BatchResponse {
  return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
}

/**
 * `detail` as JSON Schema (draft 2020-12), as committed in functions/events/lifecycle-event.schema.json for
 * consumers; regenerate that file with `npx tsx infra/local/write-event-schema.ts` after changing the schema.
 */
export function detailJsonSchema(): string {
  const schema = z.toJSONSchema(lifecycleEventDetailSchema);
  return `${JSON.stringify({ ...schema, title: `Tenant lifecycle event detail, schema version ${DETAIL_SCHEMA_VERSION}`, description: `The detail of every event with source "${EVENT_SOURCE}"; detail-type "tenant.<event>".` }, null, 2)}\n`;
}
