/**
 * `apiRoute`: wraps a route's plain function in the shared middy stack, outermost first:
 * request log (one entry per request, correlation id) → JSON errors → Powertools logger context → authentication → the caller's rate limit
 * (functions/shared/http/rate-limit.ts: a refused request changes nothing) → route access → body and parameter
 * validation (zod, strict) → Idempotency-Key (POST, functions/shared/http/idempotency.ts, on Powertools) → the function. The function receives typed, validated input.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod';
import type { ZodType } from 'zod';
import type { Principal } from '../../auth/jwt-claims';
import { routeAccess } from '../../api/routes';
import { getDynamoDbClient } from '../aws-clients';
import { config } from '../config';
import { ApiError, explainIssue, fieldErrors, validationError } from '../errors';
import { logger } from '../powertools';
import { errorResponses } from './error-handler';
import type { Json } from '../idempotency';
import { answerOnce, idempotencyKeyOf, requestIdentity, type IdempotencyKey } from './idempotency';
import { authorizeRoute, principalOf, type RouteAccess } from './principal';
import { enforceRateLimit } from './rate-limit';
import { requestLog } from './request-log';
import type { ApiResult } from './response';

export interface ApiRequest<Body, Query, Params> {
  readonly body: Body;
  readonly query: Query;
  readonly params: Params;
  readonly principal: Principal;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly requestId: string;
  /** The tenant version the caller read (`If-Match`), on routes that honour it; undefined when not sent. */
  readonly expectedVersion?: number;
  /** The Idempotency-Key sent and its caller, on idempotent routes; undefined when not sent. */
  readonly idempotencyKey?: IdempotencyKey;
}

export interface RouteOptions<Body, Query, Params> {
  readonly routeId: string;
  /**
   * Only for a route outside the route table (the local stack's own routes, test probes): a route of ROUTES has
   * its access rule there (`routeAccess` refuses it restated here).
   */
  readonly access?: RouteAccess;
  readonly params?: ZodType<Params>;
  readonly query?: ZodType<Query>;
  /** Omit for routes that take no body: any body sent is then refused. */
  readonly body?: ZodType<Body>;
  /** Honour the Idempotency-Key header (every POST route). */
  readonly idempotent?: boolean;
  /**
   * The tenant whose data an idempotent request's response holds: its record goes in that tenant's partition, so
   * the tenant's export and hard delete find it. Default: the path's `tenantId`, else a tenant token's tenant,
   * else none. Called only when an Idempotency-Key was sent.
   */
  readonly idempotencyOwner?: (request: ApiRequest<Body, Query, Params>) => string | undefined;
  /**
   * Honour `If-Match: "<version>"` (every route that changes a tenant): parsed here into `expectedVersion`,
   * which the route hands to the tenant store's read; a tenant at another version is 409 VERSION_CONFLICT.
   */
  readonly ifMatch?: boolean;
}

export type RouteHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<ApiResult>;

const EMPTY = z.object({}).strict();

/**
 * Parse an If-Match header: the tenant version as decimal digits (`"3"`, `3` or weak `W/"3"`, as the ETag
 * gives it); undefined when absent or `*` (RFC 9110 13.1.1: any current representation, and a tenant route
 * already answers 404 when there is none). Throws ApiError 400 INVALID_IF_MATCH for anything else.
 */
export function parseIfMatch(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const digits = /^(?:W\/)?"?(\d{1,16})"?$/.exec(ifMatch.trim())?.[1];
  const version = digits === undefined ? Number.NaN : Number(digits);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ApiError(400, 'INVALID_IF_MATCH', 'If-Match must be the tenant version you read (its ETag), for example "3".');
  }
  return version;
}

function parsePart<T>(schema: ZodType<T>, value: unknown, part: 'body' | 'query' | 'path'): T {
  const result = schema.safeParse(value, { error: explainIssue, reportInput: true });
  if (!result.success) throw validationError(result.error, part);
  return result.data;
}

/**
 * The query parameters, each at most once. API Gateway (payload 2.0) joins a repeated parameter's values with
 * commas in `queryStringParameters`, which would turn `?state=active&state=suspended` into one value that is
 * neither; `rawQueryString` still shows the repetition, and a value with an escaped comma stays one value.
 * Copied into a null-prototype object, so no parameter name (`__proto__`) can reach a prototype.
 */
function queryOf(event: APIGatewayProxyEventV2): Record<string, string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of new URLSearchParams(event.rawQueryString ?? '').keys()) (seen.has(name) ? repeated : seen).add(name);
  if (repeated.size > 0) {
    throw fieldErrors('query', [...repeated].map((name) => ({ in: 'query', field: name, message: `may appear once: send a single ${name}` })));
  }
  return Object.assign(Object.create(null) as Record<string, string>, event.queryStringParameters);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * API Gateway HTTP API's own payload limit, 10 MB (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html):
 * the most any route can receive. The local adapter enforces it at its edge as API Gateway does.
 */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** 400 MALFORMED_UTF8: the body's bytes are not UTF-8 text. */
function malformedUtf8(what: string): ApiError {
  return new ApiError(400, 'MALFORMED_UTF8', `The request body is not valid UTF-8 (${what}): send JSON encoded as UTF-8.`);
}

/** 413 PAYLOAD_TOO_LARGE for a body of `size` bytes over `limit`. */
function checkBodySize(size: number, limit: number): void {
  if (size > limit) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The request body is ${size} bytes; the limit is ${limit} bytes.`);
}

/**
 * The body's text. API Gateway delivers text media types (`text/*`, `application/json`, …) as a string and any
 * other body base64-encoded (`isBase64Encoded`); bytes that are not UTF-8 are refused here, on AWS as locally.
 * A string body with U+FFFD is refused too: it is what a lossy decoding leaves in place of invalid bytes.
 */
function bodyText(event: APIGatewayProxyEventV2): { readonly size: number; readonly text: () => string } {
  if (!event.isBase64Encoded) {
    const text = event.body as string;
    return {
      size: Buffer.byteLength(text, 'utf8'),
      text: () => {
        if (text.includes('\ufffd')) throw malformedUtf8('it contains U+FFFD, the replacement character that stands for bytes that were not UTF-8');
        return text;
      },
    };
  }
  const bytes = Buffer.from(event.body as string, 'base64');
  return {
    size: bytes.length,
    text: () => {
      try {
        return UTF8.decode(bytes);
      } catch {
        throw malformedUtf8('it has byte sequences that UTF-8 does not allow');
      }
    },
  };
}

/**
 * The request body's exact bytes as the client sent them (base64-decoded when API Gateway encoded them), for a
 * route that verifies a signature over them before reading anything: an empty buffer when there is none.
 * Throws ApiError 413 past `maxBytes`, 400 MALFORMED_UTF8 for bytes that are not UTF-8 (two such bodies can
 * decode to the same text, so a signature over the text would not pin the bytes).
 */
export function rawRequestBody(event: APIGatewayProxyEventV2, maxBytes: number): Buffer {
  if (event.body === undefined || event.body === null || event.body === '') return Buffer.alloc(0);
  const body = bodyText(event);
  checkBodySize(body.size, maxBytes);
  const text = body.text(); // refuses bytes that are not UTF-8, base64-encoded or not
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(text, 'utf8');
}

/** The request body as JSON: 413 past the size limit, 415 for another media type, 400 for malformed UTF-8 or JSON. */
function readJsonBody(event: APIGatewayProxyEventV2, expectsBody: boolean): unknown {
  if (event.body === undefined || event.body === null || event.body === '') return expectsBody ? {} : undefined;
  const body = bodyText(event);
  checkBodySize(body.size, config.maxBodyBytes);
  if (!expectsBody) throw new ApiError(400, 'UNEXPECTED_BODY', 'This route takes no request body; send none.');
  const contentType = event.headers?.['content-type'] ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the body as JSON with "Content-Type: application/json" (got "${contentType || 'none'}").`);
  }
  const text = body.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'MALFORMED_JSON', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The outer middleware every route shares, outermost first: request log (correlation id), JSON errors, Powertools
 * logger context. `apiRoute` adds authentication, validation and idempotency inside it; a public route that
 * verifies its caller itself (a signed webhook) uses it as it is.
 */
export function routeMiddleware(): middy.MiddyfiedHandler<APIGatewayProxyEventV2, ApiResult> {
  return middy<APIGatewayProxyEventV2, ApiResult>()
    .use(requestLog()) // also clears the request's log keys, last, so error entries keep them
    .use(errorResponses())
    .use(injectLambdaContext(logger));
}

/**
 * Refuse any query parameter (400 VALIDATION_FAILED naming each): for a route that takes none and does not go
 * through `apiRoute`'s strict query schema.
 */
export function refuseQuery(event: APIGatewayProxyEventV2): void {
  parsePart(EMPTY, queryOf(event), 'query');
}

/** Build a route's Lambda handler from its options and its plain function. */
export function apiRoute<Body = undefined, Query = Record<string, never>, Params = Record<string, never>>(
  options: RouteOptions<Body, Query, Params>,
  run: (request: ApiRequest<Body, Query, Params>) => Promise<ApiResult>,
): RouteHandler {
  const parsed = new WeakMap<APIGatewayProxyEventV2, { readonly request: ApiRequest<Body, Query, Params>; readonly identity: () => Json }>();
  const access = routeAccess(options.routeId, options.access);

  // Authentication and validation come before the idempotency claim, so refused requests never hold a key.
  const parseRequest: middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> = {
    before: async ({ event }) => {
      const principal = principalOf(event);
      // Every authenticated request counts, refused ones too, before anything is read or claimed.
      await enforceRateLimit({ client: getDynamoDbClient(), tableName: config.tableName, limits: config.rateLimits }, principal);
      const params = parsePart((options.params ?? EMPTY) as ZodType<Params>, event.pathParameters ?? {}, 'path');
      const tenantId = (params as { tenantId?: string }).tenantId;
      authorizeRoute(principal, access, tenantId);
      if (tenantId) logger.appendKeys({ tenantId });
      const rawQuery = queryOf(event);
      const query = parsePart((options.query ?? EMPTY) as ZodType<Query>, rawQuery, 'query');
      const rawBody = readJsonBody(event, options.body !== undefined);
      const body = options.body ? parsePart(options.body, rawBody, 'body') : (undefined as Body);
      const headers = event.headers ?? {};
      const expectedVersion = options.ifMatch ? parseIfMatch(headers['if-match']) : undefined;
      const idempotencyKey = options.idempotent ? idempotencyKeyOf(headers, principal) : undefined;
      const request = {
        body, query, params, principal, headers, requestId: event.requestContext?.requestId ?? '',
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      };
      parsed.set(event, { request, identity: () => requestIdentity(options.routeId, event, rawQuery, rawBody) });
    },
  };

  const owner = (request: ApiRequest<Body, Query, Params>): string | undefined =>
    options.idempotencyOwner ? options.idempotencyOwner(request) : ((request.params as { tenantId?: string }).tenantId ?? (request.principal.role === 'tenant' ? request.principal.tenantId : undefined));

  return routeMiddleware()
    .use(parseRequest)
    .handler(async (event, context) => {
      const { request, identity } = parsed.get(event) as { request: ApiRequest<Body, Query, Params>; identity: () => Json };
      if (!request.idempotencyKey) return run(request);
      return answerOnce(
        { key: request.idempotencyKey, request: identity(), tenantId: owner(request), context, client: getDynamoDbClient(), tableName: config.tableName, ttlSeconds: config.idempotencyTtlSeconds },
        () => run(request),
      );
    }) as unknown as RouteHandler;
}
