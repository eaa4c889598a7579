/**
 * `apiRoute`: wraps a route's plain function in the shared middy stack, outermost first:
 * request log (one entry per request, correlation id) → JSON errors → Powertools logger context → authentication and route access → body and parameter
 * validation (zod, strict) → Idempotency-Key (POST) → the function. The function receives typed, validated input.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { z, type ZodType } from 'zod';
import type { Principal } from '../../auth/api-tokens';
import { getDocumentClient } from '../aws-clients';
import { config } from '../config';
import { ApiError, validationError } from '../errors';
import { logger } from '../powertools';
import { errorResponses } from './error-handler';
import { IdempotencyStore, idempotency } from './idempotency';
import { authorizeRoute, principalOf, type RouteAccess } from './principal';
import { requestLog } from './request-log';
import type { ApiResult } from './response';

export interface ApiRequest<Body, Query, Params> {
  readonly body: Body;
  readonly query: Query;
  readonly params: Params;
  readonly principal: Principal;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly requestId: string;
}

export interface RouteOptions<Body, Query, Params> {
  readonly routeId: string;
  readonly access: RouteAccess;
  readonly params?: ZodType<Params>;
  readonly query?: ZodType<Query>;
  /** Omit for routes that take no body: any body sent is then refused. */
  readonly body?: ZodType<Body>;
  /** Honour the Idempotency-Key header (every POST route). */
  readonly idempotent?: boolean;
}

export type RouteHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<ApiResult>;

const EMPTY = z.object({}).strict();
let idempotencyStore: IdempotencyStore | undefined;

function sharedIdempotencyStore(): IdempotencyStore {
  idempotencyStore ??= new IdempotencyStore({ client: getDocumentClient(), tableName: config.tableName, ttlSeconds: config.idempotencyTtlSeconds });
  return idempotencyStore;
}

function parsePart<T>(schema: ZodType<T>, value: unknown, part: 'body' | 'query' | 'path'): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, part);
  return result.data;
}

/** The request body as JSON: 413 past the size limit, 415 for another media type, 400 for malformed JSON. */
function readJsonBody(event: APIGatewayProxyEventV2, expectsBody: boolean): unknown {
  if (event.body === undefined || event.body === null || event.body === '') return expectsBody ? {} : undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const size = Buffer.byteLength(raw, 'utf8');
  if (size > config.maxBodyBytes) {
    throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The request body is ${size} bytes; the limit is ${config.maxBodyBytes} bytes.`);
  }
  if (!expectsBody) throw new ApiError(400, 'UNEXPECTED_BODY', 'This route takes no request body; send none.');
  const contentType = event.headers?.['content-type'] ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the body as JSON with "Content-Type: application/json" (got "${contentType || 'none'}").`);
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw new ApiError(400, 'MALFORMED_JSON', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Build a route's Lambda handler from its options and its plain function. */
export function apiRoute<Body = undefined, Query = Record<string, never>, Params = Record<string, never>>(
  options: RouteOptions<Body, Query, Params>,
  run: (request: ApiRequest<Body, Query, Params>) => Promise<ApiResult>,
): RouteHandler {
  const parsed = new WeakMap<APIGatewayProxyEventV2, ApiRequest<Body, Query, Params>>();

  // Authentication and validation come before the idempotency claim, so refused requests never hold a key.
  const parseRequest: middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> = {
    before: async ({ event }) => {
      const principal = principalOf(event);
      const params = parsePart((options.params ?? EMPTY) as ZodType<Params>, event.pathParameters ?? {}, 'path');
      const tenantId = (params as { tenantId?: string }).tenantId;
      authorizeRoute(principal, options.access, tenantId);
      if (tenantId) logger.appendKeys({ tenantId });
      const query = parsePart((options.query ?? EMPTY) as ZodType<Query>, event.queryStringParameters ?? {}, 'query');
      const rawBody = readJsonBody(event, options.body !== undefined);
      const body = options.body ? parsePart(options.body, rawBody, 'body') : (undefined as Body);
      parsed.set(event, { body, query, params, principal, headers: event.headers ?? {}, requestId: event.requestContext?.requestId ?? '' });
    },
  };

  const handler = middy<APIGatewayProxyEventV2, ApiResult>()
    .use(requestLog()) // also clears the request's log keys, last, so error entries keep them
    .use(errorResponses())
    .use(injectLambdaContext(logger))
    .use(parseRequest);
  if (options.idempotent) handler.use(idempotency({ routeId: options.routeId, store: sharedIdempotencyStore }));
  return handler.handler(async (event) => run(parsed.get(event) as ApiRequest<Body, Query, Params>)) as unknown as RouteHandler;
}
