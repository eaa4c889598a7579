/**
 * The local stand-in for API Gateway HTTP API: a Node HTTP server on loopback that turns each request into
 * the same payload-format-2.0 event API Gateway sends, verifies the token of every authenticated route as API
 * Gateway's JWT authorizer does (local-jwt-authorizer.ts, against the local issuer's JWKS, which it also serves),
 * and invokes the very handler module that the stack deploys for that route (from the shared route table).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { FALLBACK_ROUTE, ROUTES, matchRoute, routeScopes, routeTableGrants, type RouteDefinition } from '../../functions/api/routes';
import { claimMapping, scopesForAccess } from '../../functions/auth/jwt-claims';
import { callerOf } from '../../functions/shared/http/principal';
import type { ApiResult } from '../../functions/shared/http/response';
import { jsonResponse } from '../../functions/shared/http/response';
import { API_GATEWAY_MAX_BODY_BYTES } from '../../functions/shared/http/api-handler';
import { callerLabel, type RequestLogEntry } from '../../functions/shared/http/request-log';
import * as clock from '../../functions/shared/clock';
import { getDynamoDbClient } from '../../functions/shared/aws-clients';
import { withTableGrant } from '../../functions/shared/table-grant-scope';
import type { LocalRoute } from './local-clock';
import type { TokenVerification } from './local-issuer';
import { authorizeJwt } from './local-jwt-authorizer';
import { refuseMisdirected } from './loopback-host';
import { guardTableGrants } from './table-grant-guard';

/**
 * API Gateway's own payload limit (10 MB), enforced here as at its edge; the handlers enforce the API's smaller
 * limit (64 KiB) with a clear message, on every route but the signed Stripe webhook's.
 */
const GATEWAY_MAX_BODY_BYTES = API_GATEWAY_MAX_BODY_BYTES;
/**
 * HTTP API quota "total combined size of request line and header values": 10240 bytes
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). Node's own limit
 * (`maxHeaderSize`, 16 KiB of header text) is higher, so this one applies first.
 */
const GATEWAY_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES = 10_240;
/** How long a connection the adapter has refused at the HTTP level may stay open for the client to read the answer. */
const REFUSED_CONNECTION_GRACE_MS = 2_000;
/**
 * Media types API Gateway HTTP API (payload 2.0) hands to Lambda as a string; any other body arrives
 * base64-encoded with `isBase64Encoded: true`. AWS documents the mechanism, not the list: this one was measured
 * on AWS (ministackorg/ministack#766).
 */
const TEXT_MEDIA_TYPE = /^\s*(text\/[^;\s]+|application\/(json|xml|javascript))\s*(;|$)/i;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const REPO_ROOT = join(__dirname, '..', '..');

type RouteHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<ApiResult>;

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const handlers = new Map<string, Promise<RouteHandler>>();
/** Who made each request, as its verified token says, for the request log. */
const callers = new WeakMap<ServerResponse, string>();

function loadHandler(route: RouteDefinition): Promise<RouteHandler> {
  let handler = handlers.get(route.id);
  if (!handler) {
    handler = import(join(REPO_ROOT, route.entry)).then((module: { handler: RouteHandler }) => module.handler);
    handlers.set(route.id, handler);
  }
  return handler;
}

/** How long a route's handler may run locally: its function's timeout on AWS (HandlerFunction's default). */
const ROUTE_TIMEOUT_SECONDS = 10;

function lambdaContext(routeId: string, requestId: string, timeoutSeconds = ROUTE_TIMEOUT_SECONDS): Context {
  const deadline = performance.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `local-${routeId}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:local-${routeId}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/local/${routeId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(Math.round(deadline - performance.now()), 0),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The whole body, or 'too-large' as soon as it passes API Gateway's limit. The rest of a body that is too large
 * is then read and dropped as it arrives, so the keep-alive connection carries the next request once this one
 * has ended (Node's `requestTimeout`, 300 s, bounds a body that never ends).
 */
function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onEnd = () => resolve(Buffer.concat(chunks));
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= GATEWAY_MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      request.off('data', onData).off('end', onEnd).resume();
      resolve('too-large');
    };
    request.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

/** Request line plus every header value, in bytes: what API Gateway's 10240-byte quota counts. */
function requestLineAndHeaderValuesBytes(request: IncomingMessage): number {
  let size = Buffer.byteLength(`${request.method ?? ''} ${request.url ?? ''} HTTP/${request.httpVersion}`);
  for (let i = 1; i < request.rawHeaders.length; i += 2) size += Buffer.byteLength(request.rawHeaders[i] as string);
  return size;
}

/**
 * The body as API Gateway hands it over: a string for text media types, base64 for anything else. A text body
 * that is not UTF-8 goes base64 too (what AWS does with one is not documented), so the handler sees its bytes
 * and refuses them as it would on AWS.
 */
function eventBody(body: Buffer, contentType: string | undefined): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  if (TEXT_MEDIA_TYPE.test(contentType ?? '')) {
    try {
      return { body: UTF8.decode(body), isBase64Encoded: false };
    } catch {
      // not UTF-8: falls through to base64
    }
  }
  return { body: body.toString('base64'), isBase64Encoded: true };
}

/** Header and query maps have no prototype, so a name such as `__proto__` is a name like any other. */
function toEvent(request: IncomingMessage, url: URL, body: Buffer, routeKey: string, pathParameters: Record<string, string> | undefined, requestId: string): APIGatewayProxyEventV2 {
  const headers = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  // Payload 2.0 joins a repeated parameter's values with commas; rawQueryString keeps them apart.
  const query = Object.create(null) as Record<string, string>;
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  // The gateway's time of the request: the stack's clock (simulated or not), as the handlers see it.
  const now = clock.now();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters,
    ...eventBody(body, headers['content-type']),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: { method: request.method ?? 'GET', path: url.pathname, protocol: `HTTP/${request.httpVersion}`, sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
}

/**
 * The scopes an authenticated route accepts, from the route table (`routeScopes`); a route outside it (the fallback,
 * the local stack's own routes, which check their caller themselves) accepts either scope.
 */
function scopesOf(route: RouteDefinition | undefined): string[] {
  return route && route.access !== 'public' ? routeScopes(route, claimMapping()) : scopesForAccess('operator-or-owner-of-resource');
}

/** The issuer's public discovery routes (`GET`, no token needed), as an identity provider serves them. */
function discoveryResult(method: string, path: string, tokens: TokenVerification, baseUrl: string): ApiResult | undefined {
  const documents: Record<string, () => object> = {
    '/.well-known/jwks.json': () => tokens.jwks(),
    '/.well-known/openid-configuration': () => tokens.openIdConfiguration(baseUrl),
  };
  const document = documents[path];
  if (!document) return undefined;
  if (method !== 'GET' && method !== 'HEAD') return errorResult(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on ${path}; use GET.`);
  return jsonResponse(200, document(), { 'cache-control': 'max-age=300' });
}

function send(response: ServerResponse, result: ApiResult): void {
  response.writeHead(result.statusCode, result.headers);
  response.end(result.body ?? '');
}

function errorResult(status: number, code: string, message: string): ApiResult {
  return jsonResponse(status, { error: { code, message } });
}

function headersTooLarge(message: string): ApiResult {
  return errorResult(431, 'REQUEST_HEADERS_TOO_LARGE', `${message} Send a shorter token or fewer headers.`);
}

const answeredAtHttpLevel = new WeakSet<Duplex>();

/**
 * What Node's HTTP parser refuses before there is a request (headers past `maxHeaderSize`, a malformed request
 * line or header, a request too slow to arrive) gets the API's JSON error shape and `Connection: close`, instead
 * of Node's empty answer. The connection is then closed: once the parser has failed, nothing after it on the
 * socket can be read as a request. What the client still sends is dropped, for a short grace period, so it can
 * read the answer instead of meeting a reset.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (answeredAtHttpLevel.has(socket) || !socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  answeredAtHttpLevel.add(socket);
  const result =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? headersTooLarge('The request headers are larger than this server reads.')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? errorResult(408, 'REQUEST_TIMEOUT', 'The request did not arrive in time; send it again.')
        : errorResult(400, 'MALFORMED_REQUEST', `The request is not valid HTTP/1.1 (${error.code ?? 'parse error'}); check the request line and headers.`);
  const body = result.body ?? '';
  const head = [`HTTP/1.1 ${result.statusCode} ${STATUS_CODES[result.statusCode] ?? ''}`, ...Object.entries(result.headers).map(([name, value]) => `${name}: ${value}`)];
  socket.end(`${head.join('\r\n')}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  setTimeout(() => socket.destroy(), REFUSED_CONNECTION_GRACE_MS).unref();
}

/**
 * The local-only route for a method and path (`/_local/clock`, the event log's `/events`; never deployed), a 405 with `Allow` when the path
 * is one of them under another method, or undefined when the path is none of them.
 */
function localRoute(localRoutes: readonly LocalRoute[], method: string, path: string): LocalRoute | ApiResult | undefined {
  const onPath = localRoutes.filter((route) => route.path === path.replace(/(.)\/$/, '$1'));
  if (onPath.length === 0) return undefined;
  const route = onPath.find((candidate) => candidate.method === method.toUpperCase());
  if (route) return route;
  const allow = onPath.map((candidate) => candidate.method).join(', ');
  return jsonResponse(405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not supported on ${path}; use ${onPath.map((candidate) => candidate.method).join(' or ')}.` } }, { allow });
}

async function handle(request: IncomingMessage, response: ServerResponse, localRoutes: readonly LocalRoute[], tokens: TokenVerification, baseUrl: string): Promise<void> {
  // DNS rebinding: a request addressed to another name than loopback's is refused before anything reads it.
  const misdirected = refuseMisdirected(request.headers.host, baseUrl);
  if (misdirected) {
    request.resume();
    return send(response, misdirected);
  }
  const requestId = randomUUID();
  // The request target is a path (origin-form): appended to the origin, so a target starting with `//` stays a
  // path instead of being read as a host name (`new URL('//x/tenants', base)` would drop the `x`).
  const url = new URL(`http://localhost${(request.url ?? '/').startsWith('/') ? '' : '/'}${request.url ?? '/'}`);
  const body = await readBody(request);
  if (body === 'too-large') return send(response, errorResult(413, 'PAYLOAD_TOO_LARGE', `The request body exceeds ${GATEWAY_MAX_BODY_BYTES} bytes.`));
  const headerBytes = requestLineAndHeaderValuesBytes(request);
  if (headerBytes > GATEWAY_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES) {
    return send(response, headersTooLarge(`The request line and header values are ${headerBytes} bytes; the limit is ${GATEWAY_MAX_REQUEST_LINE_AND_HEADER_VALUES_BYTES}.`));
  }

  const discovery = discoveryResult(request.method ?? 'GET', url.pathname, tokens, baseUrl);
  if (discovery) return send(response, discovery);
  const local = localRoute(localRoutes, request.method ?? 'GET', url.pathname);
  const { match } = local ? { match: undefined } : matchRoute(request.method ?? 'GET', url.pathname);
  const route = match?.route ?? FALLBACK_ROUTE;
  const routeKey = local && 'handler' in local ? `${local.method} ${local.path}` : match ? `${route.method} ${route.path}` : '$default';
  const event = toEvent(request, url, body, routeKey, match?.pathParameters, requestId);

  // A public route (`authenticated: false`: the health check, the signed Stripe webhook, which verifies its caller
  // in its handler) gets no authorizer, as on API Gateway.
  if (local || route.authenticated) {
    const decision = await authorizeJwt(event.headers.authorization, scopesOf(local ? undefined : route), tokens);
    // A verified token (also one refused for want of the route's scope): on the event as API Gateway passes it,
    // and its caller in the request log.
    const jwt = decision.authorized ? decision.jwt : decision.refusal.jwt;
    if (jwt) {
      (event.requestContext as unknown as Record<string, unknown>).authorizer = { jwt };
      callers.set(response, callerLabel(callerOf(event)));
    }
    if (!decision.authorized) {
      const { status, code, message, challenge } = decision.refusal;
      return send(response, jsonResponse(status, { error: { code, message } }, { 'www-authenticate': challenge }));
    }
  }
  if (local && !('handler' in local)) return send(response, local);
  if (local) return send(response, await local.handler(event, lambdaContext(`Local${local.method}`, requestId, local.timeoutSeconds)));
  const handler = await loadHandler(route);
  // The handler's table calls are checked against its route's IAM grant, as its function's role is on AWS.
  const grant = { principal: `${route.id}Function`, statements: routeTableGrants(route) };
  send(response, await withTableGrant(grant, () => handler(event, lambdaContext(route.id, requestId))));
}

/**
 * Serve the API on 127.0.0.1 (port 0 picks a free one). `tokens` is what tokens are verified with: the local
 * issuer (its issuer, audience and JWKS, also served at `/.well-known/jwks.json`). `onResponse` is called once per
 * request when its response is done (or its connection closed), with the request log's fields. `localRoutes` are
 * served besides the shared route table, behind the same authorizer: the local stack's own (`/_local/clock`,
 * `/events`), which AWS never has.
 */
export async function startLocalApi(options: { tokens: TokenVerification; port?: number; onResponse?: (entry: RequestLogEntry) => void; localRoutes?: readonly LocalRoute[] }): Promise<LocalApi> {
  await Promise.all(ROUTES.map(loadHandler).concat(loadHandler(FALLBACK_ROUTE)));
  guardTableGrants(getDynamoDbClient());
  let baseUrl = 'http://127.0.0.1';
  const server: Server = createServer((request, response) => {
    const started = performance.now();
    response.once('close', () =>
      options.onResponse?.({
        method: request.method ?? '',
        path: (request.url ?? '/').split('?')[0] as string,
        status: response.statusCode,
        durationMs: Math.round(performance.now() - started),
        caller: callers.get(response) ?? 'anonymous',
      }),
    );
    handle(request, response, options.localRoutes ?? [], options.tokens, baseUrl).catch((error: unknown) => {
      process.stderr.write(`local API: ${(error as Error).stack ?? String(error)}\n`);
      if (!response.headersSent) send(response, errorResult(500, 'INTERNAL_ERROR', 'The local API adapter failed; see its console.'));
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerClientError);
  // Node answers an `Expect` other than 100-continue itself, with an empty 417: answer it in the API's shape.
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    send(response, errorResult(417, 'EXPECTATION_FAILED', `Expect: ${request.headers.expect ?? ''} is not supported; send "Expect: 100-continue" or no Expect header.`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
