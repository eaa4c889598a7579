/**
 * The lifecycle events' sink on AWS: EventBridge PutEvents on the stack's event bus, one entry per event
 * (`source` EVENT_SOURCE, `detail-type` `tenant.<event>`, `time` the change's commit time).
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, detailType, type EventSink, type LifecycleEventDetail } from './lifecycle-events';

/** PutEvents takes at most 10 entries a call (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html). */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/** The PutEvents entry of one lifecycle event on `eventBusName` (a name or an ARN). */
export function putEventsEntry(detail: LifecycleEventDetail, eventBusName: string): PutEventsRequestEntry {
  return { EventBusName: eventBusName, Source: EVENT_SOURCE, DetailType: detailType(detail.event), Time: new Date(detail.at), Detail: JSON.stringify(detail) };
}

/**
 * A sink that puts events on `eventBusName`. PutEvents may accept some entries of a call and refuse others
 * (`ErrorCode` on the refused entries' results, `FailedEntryCount`): those answer false, to be retried; a call
 * that fails as a whole (after the SDK's own retries) throws.
 */
export function eventBridgeSink(client: EventBridgeClient, eventBusName: string): EventSink {
  return {
    async put(details) {
      if (details.length > PUT_EVENTS_MAX_ENTRIES) throw new RangeError(`PutEvents takes at most ${PUT_EVENTS_MAX_ENTRIES} entries, got ${details.length}.`);
      const { Entries = [] } = await client.send(new PutEventsCommand({ Entries: details.map((detail) => putEventsEntry(detail, eventBusName)) }));
      return details.map((_, index) => {
        const result = Entries[index];
        return result !== undefined && !result.ErrorCode && result.EventId !== undefined;
      });
    },
  };
}
