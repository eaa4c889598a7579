/**
 * The lifecycle events' publisher: a stream record of a new audit item → one EventBridge entry (source,
 * `tenant.<event>`, the versioned detail with the audit item's id), other records → nothing; PutEvents' partial
 * failures and whole-call failures → the first record not published is a batch item failure, and the batch
 * delivered again from it publishes the rest (with the same ids). PutEvents asserted with aws-sdk-client-mock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import * as z from 'zod';
import dynamoDbStreamAuditEvent from '../events/dynamodb-stream-audit.json';
import { dynamoDbStreamEvent } from '../support/events';
import { LIFECYCLE_EVENTS } from '../../functions/lifecycle';
import { auditSource } from '../../functions/data-sources/audit-source';
import { REACTIVATION_PATHS } from '../../functions/reactivation/reactivation-definition';
import { AUDIT_FIELDS, CHANGE_EVENTS } from '../../functions/tenants/tenant-store';
import { auditSk, tenantPk } from '../../functions/tenants/tenant-table';
import { eventBridgeSink } from '../../functions/events/eventbridge-sink';
import { AUDIT_EVENTS, DETAIL_TYPES, detailJsonSchema, EVENT_SOURCE, lifecycleEventDetailSchema, publishStreamRecords, type StreamRecord } from '../../functions/events/lifecycle-events';

const BUS = 'tenant-lifecycle-events';
const eventBridge = mockClient(EventBridgeClient);
let sequence = 100;

/** The audit item the tenant store writes (tenant-store.ts #auditPut), as its stream record carries it. */
function auditRecord(tenantId: string, version: number, event: string, extra: Record<string, unknown> = {}): StreamRecord {
  const item = {
    pk: tenantPk(tenantId),
    sk: auditSk(version),
    type: 'audit',
    tenantId,
    version,
    at: `2026-11-30T05:0${version % 10}:00.000Z`,
    actor: 'operator@test',
    event,
    ...(event === 'create' ? {} : { from: 'active' }),
    to: event === 'suspend' ? 'suspended' : 'active',
    ...extra,
  };
  sequence += 1;
  return { eventName: 'INSERT', dynamodb: { SequenceNumber: String(sequence), NewImage: marshall(item) } };
}

function sentEntries(): PutEventsRequestEntry[] {
  return eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
}

function accepted(count: number, failedIndexes: readonly number[] = []) {
  return { FailedEntryCount: failedIndexes.length, Entries: Array.from({ length: count }, (_, index) => (failedIndexes.includes(index) ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' } : { EventId: `ev-${index}` })) };
}

const acceptAll = (input: { Entries: unknown[] }) => accepted(input.Entries.length);

beforeEach(() => {
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).callsFake(acceptAll);
});

describe('Function: publishStreamRecords', () => {
  it('should put one entry per new audit item on the bus: the source, tenant.<event>, the commit time and the versioned detail with the audit id', async () => {
    const record = auditRecord('acme', 2, 'suspend', { reason: 'invoice.payment_failed', stripeEventId: 'evt_123', operationId: 'op_1' });

    const result = await publishStreamRecords([record], eventBridgeSink(new EventBridgeClient({}), BUS));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    const [entry] = sentEntries();
    expect(entry).toEqual({ EventBusName: BUS, Source: EVENT_SOURCE, DetailType: 'tenant.suspend', Time: new Date('2026-11-30T05:02:00.000Z'), Detail: expect.any(String) });
    // Only the audit fields: no key, no item type.
    expect(JSON.parse(entry?.Detail as string)).toEqual({
      schemaVersion: 1,
      id: 'acme#2',
      tenantId: 'acme',
      version: 2,
      event: 'suspend',
      from: 'active',
      to: 'suspended',
      at: '2026-11-30T05:02:00.000Z',
      actor: 'operator@test',
      reason: 'invoice.payment_failed',
      operationId: 'op_1',
      stripeEventId: 'evt_123',
    });
  });

  it.each(REACTIVATION_PATHS)('should publish a reactivation with its path (%s): who, why and which path', async (path) => {
    const record = auditRecord('acme', 7, 'complete_reactivation', { from: 'reactivating', to: 'active', reason: 'win-back', operationId: 'op_r', reactivationPath: path });

    const result = await publishStreamRecords([record], eventBridgeSink(new EventBridgeClient({}), BUS));

    expect(result).toEqual({ batchItemFailures: [] });
    const [entry] = sentEntries();
    expect(entry?.DetailType).toBe('tenant.complete_reactivation');
    expect(JSON.parse(entry?.Detail as string)).toMatchObject({ id: 'acme#7', actor: 'operator@test', reason: 'win-back', operationId: 'op_r', reactivationPath: path });
  });

  it('should give `create` a null `from` and publish nothing for other items, updates or removals', async () => {
    const tenantItem = { eventName: 'INSERT', dynamodb: { SequenceNumber: '1', NewImage: marshall({ pk: tenantPk('acme'), sk: 'TENANT', type: 'tenant', tenantId: 'acme', version: 1 }) } };
    const modified = { ...auditRecord('acme', 3, 'resume'), eventName: 'MODIFY' };
    const removed = { eventName: 'REMOVE', dynamodb: { SequenceNumber: '2' } };

    const result = await publishStreamRecords([tenantItem, modified, removed, auditRecord('acme', 1, 'create')], eventBridgeSink(new EventBridgeClient({}), BUS));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(sentEntries().map((entry) => [entry.DetailType, JSON.parse(entry.Detail as string).from])).toEqual([['tenant.create', null]]);
  });

  it('should report the first entry PutEvents refused as the batch item failure, and publish the rest when the batch comes again from it', async () => {
    const records = [auditRecord('acme', 1, 'create'), auditRecord('acme', 2, 'suspend'), auditRecord('acme', 3, 'resume')];
    eventBridge.on(PutEventsCommand).resolvesOnce(accepted(3, [1])).callsFake(acceptAll);
    const sink = eventBridgeSink(new EventBridgeClient({}), BUS);

    const first = await publishStreamRecords(records, sink);

    expect(first).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.dynamodb?.SequenceNumber }] });
    // Lambda (and the local poller) deliver the batch again from the failed record.
    const second = await publishStreamRecords(records.slice(1), sink);
    expect(second).toEqual({ batchItemFailures: [] });
    const ids = sentEntries().map((entry) => JSON.parse(entry.Detail as string).id as string);
    expect(ids).toEqual(['acme#1', 'acme#2', 'acme#3', 'acme#2', 'acme#3']);
    // Every id published at least once, in version order at its last delivery; the duplicate carries the same id.
    expect(new Set(ids)).toEqual(new Set(['acme#1', 'acme#2', 'acme#3']));
  });

  it('should send at most 10 entries a call and send nothing after a slice that failed as a whole', async () => {
    const records = Array.from({ length: 25 }, (_, index) => auditRecord('acme', index + 1, index === 0 ? 'create' : 'suspend'));
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce(accepted(10))
      .rejectsOnce(Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' }));

    const result = await publishStreamRecords(records, eventBridgeSink(new EventBridgeClient({}), BUS));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[10]?.dynamodb?.SequenceNumber }] });
    expect(eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10]);
  });

  it('should fail at an audit item that is not a valid event, after publishing the ones before it', async () => {
    const records = [auditRecord('acme', 1, 'create'), auditRecord('acme', 2, 'suspend', { actor: '' }), auditRecord('acme', 3, 'resume')];
    const invalid: unknown[] = [];

    const result = await publishStreamRecords(records, eventBridgeSink(new EventBridgeClient({}), BUS), { onInvalid: (error) => invalid.push(error) });

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.dynamodb?.SequenceNumber }] });
    expect(sentEntries().map((entry) => entry.DetailType)).toEqual(['tenant.create']);
    expect(invalid).toHaveLength(1);
  });
});

describe('Handler: publish-lifecycle-events', () => {
  it('should publish the stream batch on EVENT_BUS_NAME and answer the partial batch response', async () => {
    process.env.EVENT_BUS_NAME = BUS;
    const { handler } = await import('../../functions/events/handlers/publish-lifecycle-events');
    const [fixture] = dynamoDbStreamAuditEvent.Records;
    const suspended = unmarshall(fixture?.dynamodb?.NewImage as Record<string, AttributeValue>);
    const event = dynamoDbStreamEvent([{ ...suspended, sk: auditSk(1), version: 1, event: 'create', from: undefined, to: 'active' }, suspended]);
    eventBridge.on(PutEventsCommand).resolvesOnce(accepted(2, [1])).callsFake(acceptAll);

    const result = await handler(event);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1]?.dynamodb?.SequenceNumber }] });
    expect(sentEntries().map((entry) => [entry.EventBusName, entry.DetailType, JSON.parse(entry.Detail as string).id])).toEqual([
      [BUS, 'tenant.create', 'acme-corp#1'],
      [BUS, 'tenant.suspend', 'acme-corp#2'],
    ]);
  });
});

describe('The detail schema', () => {
  it('should have one detail-type per event of the lifecycle table, `create` and every change event, none twice', () => {
    expect(new Set(AUDIT_EVENTS)).toEqual(new Set(['create', ...LIFECYCLE_EVENTS, ...Object.values(CHANGE_EVENTS)]));
    expect(new Set(DETAIL_TYPES).size).toBe(AUDIT_EVENTS.length);
    expect(DETAIL_TYPES).toContain('tenant.complete_reactivation');
  });

  it("should list every detail-type, and only those, in README's Lifecycle events section", () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const listed = /<!-- detail-types:start -->([\s\S]*?)<!-- detail-types:end -->/.exec(readme)?.[1] ?? '';
    expect([...listed.matchAll(/`([^`]+)`/g)].map((match) => match[1])).toEqual(DETAIL_TYPES);
  });

  it('should be documented as JSON Schema in lifecycle-event.schema.json, generated from the zod schema the publisher validates with', () => {
    const file = readFileSync(join(__dirname, '../../functions/events/lifecycle-event.schema.json'), 'utf8');
    expect(file).toBe(detailJsonSchema()); // stale: npx tsx infra/local/write-event-schema.ts
    expect(JSON.parse(file)).toMatchObject(z.toJSONSchema(lifecycleEventDetailSchema));
  });

  it('should name every field of an audit item (the tenant store writes them), and describe it in the audit source', () => {
    const source = auditSource({ client: {} as never, tableName: 't' });
    for (const field of AUDIT_FIELDS) {
      expect({ field, published: field in lifecycleEventDetailSchema.shape, described: field in source.description.fields }).toEqual({ field, published: true, described: true });
    }
  });

  it('should refuse a reactivation path that is not one of REACTIVATION_PATHS', () => {
    const detail = { schemaVersion: 1, id: 'acme#7', tenantId: 'acme', version: 7, event: 'complete_reactivation', from: 'reactivating', to: 'active', at: '2026-11-30T05:00:00.000Z', actor: 'op' };
    expect(lifecycleEventDetailSchema.safeParse({ ...detail, reactivationPath: 'fresh_start' }).success).toBe(true);
    expect(lifecycleEventDetailSchema.safeParse({ ...detail, reactivationPath: 'rebirth' }).success).toBe(false);
  });

  it('should refuse a detail with a field the schema does not name (no personal data slips in)', () => {
    const detail = { schemaVersion: 1, id: 'acme#1', tenantId: 'acme', version: 1, event: 'create', from: null, to: 'active', at: '2026-11-30T05:00:00.000Z', actor: 'op' };
    expect(lifecycleEventDetailSchema.safeParse(detail).success).toBe(true);
    expect(lifecycleEventDetailSchema.safeParse({ ...detail, email: 'a@b.c' }).success).toBe(false);
  });
});
