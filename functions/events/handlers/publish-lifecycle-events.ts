/**
 * The lifecycle events' publisher on AWS: a Lambda fed by the lifecycle table's stream (filtered to new audit
 * items, ReportBatchItemFailures on), putting one event per audit item on the stack's event bus (EVENT_BUS_NAME).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { config } from '../../shared/config';
import { logger } from '../../shared/powertools';
import { eventBridgeSink, PUT_EVENTS_MAX_ENTRIES } from '../eventbridge-sink';
import { publishStreamRecords, type BatchResponse, type EventSink } from '../lifecycle-events';

let sink: EventSink | undefined;

export async function handler(event: DynamoDBStreamEvent): Promise<BatchResponse> {
  const busName = process.env.EVENT_BUS_NAME;
  if (!busName) throw new Error('EVENT_BUS_NAME is not set: the stack gives the publisher its event bus.');
  sink ??= eventBridgeSink(new EventBridgeClient({ region: config.region }), busName);
  const result = await publishStreamRecords(event.Records, sink, {
    sliceSize: PUT_EVENTS_MAX_ENTRIES,
    onInvalid: (error, record) => logger.error('Audit item is not a valid lifecycle event', { sequenceNumber: record.dynamodb?.SequenceNumber, error }),
  });
  if (result.batchItemFailures.length > 0) logger.warn('Lifecycle events not published; the batch is retried from this record', { failed: result.batchItemFailures });
  return result;
}
