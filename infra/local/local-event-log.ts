/**
 * The embedded stack's stand-in for the lifecycle event bus: the sink the local stream poller hands the
 * publisher's events to (functions/events/lifecycle-events.ts, the same code as on AWS), and `GET /events`, which
 * reads them back. Each delivery is appended to its tenant's log in the lifecycle table (partition
 * `EVENTS#<tenantId>`, one item per delivery at the next position 1, 2, 3…), as EventBridge would deliver it:
 * a redelivery is listed again, with the same `detail.id`. Local only: AWS has the bus, not this route.
 *
 * The log is kept with the table (`--reset` drops it) and is not part of a tenant's data sources: it repeats the
 * audit trail, which a hard delete keeps too.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { EVENT_SOURCE, detailType, type EventSink, type LifecycleEventDetail } from '../../functions/events/lifecycle-events';
import * as clock from '../../functions/shared/clock';
import { apiRoute } from '../../functions/shared/http/api-handler';
import { authorizeRoute } from '../../functions/shared/http/principal';
import { jsonResponse } from '../../functions/shared/http/response';
import { queryWholeNumber } from '../../functions/shared/schemas';
import { tenantIdSchema } from '../../functions/tenants/tenant-schemas';
import type { LocalRoute } from './local-clock';

/** The path of the event log's route, served by the local HTTP adapter only. */
export const LOCAL_EVENTS_PATH = '/events';
const EVENTS_PK_PREFIX = 'EVENTS#';
const HEAD_SK = 'HEAD';
const EVENT_SK_PREFIX = 'EVENT#';
const MAX_LIMIT = 100;
/** The largest position (12 digits, as the keys hold it). */
const MAX_POSITION = 999_999_999_999;

/** An event as EventBridge delivers it to a target (the envelope), for the local log. */
export interface DeliveredEvent {
  readonly version: '0';
  /** This delivery's own id (EventBridge's); deduplicate on `detail.id`, which a redelivery keeps. */
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: typeof EVENT_SOURCE;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: LifecycleEventDetail;
}

/** One line of a tenant's event log: where it is in the log, when it was delivered, and the event. */
export interface LoggedEvent {
  readonly position: number;
  readonly deliveredAt: string;
  readonly event: DeliveredEvent;
}

function positionSk(position: number): string {
  return `${EVENT_SK_PREFIX}${String(position).padStart(12, '0')}`;
}

export class LocalEventLog implements EventSink {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /** Append each event to its tenant's log, in order. A failure throws: the events of this call are retried. */
  async put(details: readonly LifecycleEventDetail[]): Promise<readonly boolean[]> {
    for (const detail of details) {
      const pk = `${EVENTS_PK_PREFIX}${detail.tenantId}`;
      const { Attributes } = await this.#client.send(
        new UpdateCommand({ TableName: this.#tableName, Key: { pk, sk: HEAD_SK }, UpdateExpression: 'ADD #next :one', ExpressionAttributeNames: { '#next': 'next' }, ExpressionAttributeValues: { ':one': 1 }, ReturnValues: 'UPDATED_NEW' }),
      );
      const position = Number(Attributes?.next);
      const event: DeliveredEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': detailType(detail.event),
        source: EVENT_SOURCE,
        account: 'local',
        time: detail.at,
        region: 'local',
        resources: [],
        detail,
      };
      const logged: LoggedEvent = { position, deliveredAt: clock.now().toISOString(), event };
      await this.#client.send(new PutCommand({ TableName: this.#tableName, Item: { pk, sk: positionSk(position), type: 'local-event', ...logged } }));
    }
    return details.map(() => true);
  }

  /** The tenant's events after position `after` (0: from the start), oldest first, at most `limit`. */
  async list(tenantId: string, after: number, limit: number): Promise<LoggedEvent[]> {
    const { Items = [] } = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        // BETWEEN, not `>`: the partition's HEAD item (the position counter) sorts after every EVENT# key.
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
        ExpressionAttributeValues: { ':pk': `${EVENTS_PK_PREFIX}${tenantId}`, ':first': positionSk(after + 1), ':last': positionSk(MAX_POSITION) },
        Limit: limit,
      }),
    );
    return Items.map((item) => ({ position: item.position as number, deliveredAt: item.deliveredAt as string, event: item.event as DeliveredEvent }));
  }
}

const eventsQuerySchema = z
  .object({
    tenantId: tenantIdSchema,
    after: queryWholeNumber(0, MAX_POSITION).default(0).describe('List the events after this position (the `next` of the last page); 0 or absent: from the first.'),
    limit: queryWholeNumber(1, MAX_LIMIT).default(50),
  })
  .strict();

/**
 * `GET /events?tenantId=&after=&limit=`: the tenant's lifecycle events as delivered, oldest first, `limit` (1-100,
 * default 50) after position `after`; answers `{ events, next }`, where `next` is the position to ask after
 * next (the last one listed, or `after` when none: poll again with it). Operator tokens read any tenant's,
 * tenant-scoped tokens only their own (403 otherwise); 400 for a missing or malformed `tenantId`, `after` or `limit`.
 */
export function eventLogRoutes(log: LocalEventLog): LocalRoute[] {
  return [
    {
      method: 'GET',
      path: LOCAL_EVENTS_PATH,
      handler: apiRoute({ routeId: 'LocalEvents', access: 'operator-or-owner-of-resource', query: eventsQuerySchema }, async ({ principal, query }) => {
        authorizeRoute(principal, 'operator-or-own-tenant', query.tenantId);
        const events = await log.list(query.tenantId, query.after, query.limit);
        return jsonResponse(200, { events, next: events.at(-1)?.position ?? query.after });
      }),
    },
  ];
}
