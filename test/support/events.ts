/**
 * The event fixtures of test/events/, typed, one deep copy per call (a test may change its copy freely), with
 * the fields our handlers read filled in: the caller API Gateway's JWT authorizer passes on, the route, the body.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2, DynamoDBStreamEvent, EventBridgeEvent } from 'aws-lambda';
import { claimMapping, type Principal } from '../../functions/auth/jwt-claims';
import type { PlanChangeTaskEvent } from '../../functions/plan-change/plan-change-workflow';
import type { ExecutionStatusChange } from '../../functions/workflows/handlers/execution-ended';
import type { ScheduledEvent } from '../../functions/scheduler/scheduler-port';
import apiGatewayEvent from '../events/apigw-http-jwt-authorizer-auth.json';
import publicApiGatewayEvent from '../events/apigw-http-no-auth.json';
import stripePartnerBusEvent from '../events/eventbridge-stripe-event.json';
import scheduledRuleEvent from '../events/eventbridge-scheduled-event.json';
import executionStatusChangeEvent from '../events/eventbridge-sfn-execution-status-change.json';
import periodEndEvent from '../events/scheduler-period-end.json';
import deletionFiringEvent from '../events/scheduler-deletion.json';
import dynamoDbStreamAuditEvent from '../events/dynamodb-stream-audit.json';
import dunningFiringEvent from '../events/scheduler-dunning.json';
import planChangeTaskEvent from '../events/sfn-plan-change-task.json';
import preTokenGenerationV3Event from '../events/cognito-pre-token-generation-v3.json';
import type { PreTokenGenerationEvent } from '../../functions/auth/pre-token-generation';

/** What API Gateway's JWT authorizer hands the handler: every claim a string, the token's scopes or null. */
export interface JwtAuthorizerFixture {
  claims: Record<string, string>;
  scopes: string[] | null;
}

export type ApiGatewayEvent = APIGatewayProxyEventV2 & { requestContext: { authorizer?: { jwt?: JwtAuthorizerFixture } | null } };

function clone<T>(value: unknown): T {
  return structuredClone(value) as T;
}

export interface ApiRequestFixture {
  readonly method: string;
  /** The route's path template, `{name}` for a parameter (the route key API Gateway sends). */
  readonly route: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** JSON-encoded unless a string. */
  readonly body?: unknown;
  /** The caller the token names; null for a request without an authorizer context. */
  readonly principal?: Principal | null;
}

/**
 * `requestContext.authorizer.jwt` for a token naming `principal`, as API Gateway passes it on: the fixture's
 * (Cognito) claims with `sub`, `scope` and the tenant claim of claimMapping(), every value a string.
 */
export function jwtAuthorizer(principal: Principal): JwtAuthorizerFixture {
  const mapping = claimMapping();
  const { claims } = clone<{ jwt: JwtAuthorizerFixture }>(apiGatewayEvent.requestContext.authorizer).jwt;
  const scope = principal.role === 'operator' ? mapping.operatorScope : mapping.tenantScope;
  Object.assign(claims, { sub: principal.subject, scope, token_use: 'access' });
  if (principal.tenantId) claims[mapping.tenantClaim] = principal.tenantId;
  return { claims, scopes: [scope] };
}

/** An HTTP API (payload 2.0) event for one of our routes, from the JWT-authorizer fixture. */
export function apiEvent(request: ApiRequestFixture): ApiGatewayEvent {
  const event = clone<ApiGatewayEvent>(apiGatewayEvent);
  const rawPath = request.route.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(request.pathParameters?.[name] ?? ''));
  const query = new URLSearchParams(request.query ?? {}).toString();
  const routeKey = `${request.method} ${request.route}`;
  const body = request.body === undefined ? undefined : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  Object.assign(event, { routeKey, rawPath, rawQueryString: query });
  if (request.pathParameters) event.pathParameters = { ...request.pathParameters };
  if (request.query) event.queryStringParameters = { ...request.query };
  if (body !== undefined) {
    event.body = body;
    event.headers['content-type'] = 'application/json';
  }
  delete event.headers['content-length'];
  Object.assign(event.headers, request.headers ?? {});
  Object.assign(event.requestContext, { routeKey });
  Object.assign(event.requestContext.http, { method: request.method, path: rawPath });
  const principal: Principal | null = request.principal === undefined ? { subject: 'operator@test', role: 'operator' } : request.principal;
  event.requestContext.authorizer = principal ? { jwt: jwtAuthorizer(principal) } : null;
  return event;
}

/** The "Step Functions Execution Status Change" event for a plan-change execution that ended with `status`. */
export function executionStatusChange(status: string, input: Record<string, unknown>): EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusChange> {
  const event = clone<EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusChange>>(executionStatusChangeEvent);
  Object.assign(event.detail, { status, input: JSON.stringify(input) });
  return event;
}

/**
 * What the lifecycle table's stream hands the events publisher: one INSERT record per item of `newImages` (the
 * fixture's envelope, the item as its NewImage and keys, sequence numbers from `firstSequence` up).
 */
export function dynamoDbStreamEvent(newImages: ReadonlyArray<Record<string, unknown>>, firstSequence = 111): DynamoDBStreamEvent {
  const [template] = clone<DynamoDBStreamEvent>(dynamoDbStreamAuditEvent).Records;
  const Records = newImages.map((image, index) => {
    const record = clone<NonNullable<typeof template>>(template);
    const NewImage = marshall(image, { removeUndefinedValues: true }) as never;
    Object.assign(record.dynamodb ?? {}, { NewImage, Keys: { pk: (NewImage as Record<string, unknown>).pk, sk: (NewImage as Record<string, unknown>).sk }, SequenceNumber: String(firstSequence + index) });
    return record;
  });
  return { Records };
}

/** The EventBridge rule's "Scheduled Event" (the sweeper's trigger). */
export function scheduledRule(): EventBridgeEvent<'Scheduled Event', Record<string, never>> {
  return clone(scheduledRuleEvent);
}

/** What EventBridge Scheduler delivers to the period-end target for `operationId`. */
export function periodEnd(operationId: string, tenantId: string): ScheduledEvent {
  const event = clone<ScheduledEvent>(periodEndEvent);
  return { ...event, schedule: `plan-change-${operationId}`, payload: { ...event.payload, operationId, tenantId } };
}

/** What EventBridge Scheduler delivers to a deletion target (`hard-delete.deadline` or `.enforcement`) for a soft delete. */
export function deletionFiring(target: 'hard-delete.deadline' | 'hard-delete.enforcement', schedule: string, payload: { tenantId: string; deletionRequestedAt: string }, scheduledAt: string): ScheduledEvent {
  return { ...clone<ScheduledEvent>(deletionFiringEvent), schedule, target, scheduledAt, payload: { ...payload } };
}

/** What EventBridge Scheduler delivers to the dunning ladder's timer (`dunning.timer`) of a tenant's subscription. */
export function dunningFiring(schedule: string, payload: { tenantId: string; subscriptionId: string }, scheduledAt: string): ScheduledEvent {
  return { ...clone<ScheduledEvent>(dunningFiringEvent), schedule, scheduledAt, payload: { ...payload } };
}

/** The plan-change Task state's input for `step`. */
export function planChangeTask(step: PlanChangeTaskEvent['step'], operation: PlanChangeTaskEvent['operation']): PlanChangeTaskEvent {
  return { ...clone<PlanChangeTaskEvent>(planChangeTaskEvent), step, operation };
}

/**
 * An HTTP API (payload 2.0) event for a public route (no authorizer: `apigw-http-no-auth.json`), its body given as
 * the exact bytes sent: a string as API Gateway passes text media types, or base64 with `isBase64Encoded`.
 */
export function publicApiEvent(request: { method: string; route: string; headers?: Record<string, string>; body?: Buffer; base64?: boolean }): APIGatewayProxyEventV2 {
  const event = clone<APIGatewayProxyEventV2>(publicApiGatewayEvent);
  const routeKey = `${request.method} ${request.route}`;
  Object.assign(event, { routeKey, rawPath: request.route, rawQueryString: '' });
  delete event.headers.authorization;
  delete event.headers['content-length'];
  Object.assign(event.headers, request.headers ?? {});
  if (request.body !== undefined) Object.assign(event, { body: request.base64 ? request.body.toString('base64') : request.body.toString('utf8'), isBase64Encoded: request.base64 === true });
  Object.assign(event.requestContext, { routeKey });
  Object.assign(event.requestContext.http, { method: request.method, path: request.route });
  return event;
}

/**
 * What a Stripe event destination puts on its partner event bus and the rule hands its target: `source`
 * `aws.partner/stripe.com/<destination>`, `detail-type` the event type, `detail` the Stripe Event object (an
 * `invoice.payment_failed` around Stripe's example invoice). `detail` fields given replace the fixture's; the
 * detail-type follows the type unless given.
 */
export function stripePartnerEvent(detail: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}): EventBridgeEvent<string, Record<string, unknown>> {
  const event = clone<EventBridgeEvent<string, Record<string, unknown>>>(stripePartnerBusEvent);
  Object.assign(event.detail, detail);
  event['detail-type'] = String(event.detail.type);
  return Object.assign(event, envelope);
}

/**
 * What Amazon Cognito sends the pre token generation trigger (event version V3_0): by default a client-credentials
 * request of the application plane's app client asking for tenant `acme`. `request` fields given replace the
 * fixture's (e.g. `clientMetadata`, `userAttributes`); `envelope` fields the event's (e.g. `triggerSource`,
 * `userName`).
 */
export function preTokenGenerationEvent(request: Partial<PreTokenGenerationEvent['request']> = {}, envelope: Partial<Omit<PreTokenGenerationEvent, 'request'>> = {}): PreTokenGenerationEvent {
  const event = clone<PreTokenGenerationEvent>(preTokenGenerationV3Event);
  Object.assign(event.request, request);
  return Object.assign(event, envelope);
}
