/**
 * The local stand-in for API Gateway HTTP API: a Node HTTP server on loopback that turns each request into
 * the same payload-format-2.0 event API Gateway sends, runs the token authorizer like the stack's authorizer,
 * and invokes the very handler module that the stack deploys for that route (from the shared route table).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { FALLBACK_ROUTE, ROUTES, matchRoute, type RouteDefinition } from '../../functions/api/routes';
import { authorize } from '../../functions/auth/authorizer';
import type { ApiResult } from '../../functions/shared/http/response';
import { jsonResponse } from '../../functions/shared/http/response';
import { callerLabel, type RequestLogEntry } from '../../functions/shared/http/request-log';

/** API Gateway's own payload limit; the handlers enforce the API's smaller limit with a clear message. */
const GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
const REPO_ROOT = join(__dirname, '..', '..');

type RouteHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<ApiResult>;

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const handlers = new Map<string, Promise<RouteHandler>>();
/** Who made each request, as the authorizer said, for the request log. */
const callers = new WeakMap<ServerResponse, string>();

function loadHandler(route: RouteDefinition): Promise<RouteHandler> {
  let handler = handlers.get(route.id);
  if (!handler) {
    handler = import(join(REPO_ROOT, route.entry)).then((module: { handler: RouteHandler }) => module.handler);
    handlers.set(route.id, handler);
  }
  return handler;
}

function lambdaContext(route: RouteDefinition, requestId: string): Context {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `local-${route.id}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:local-${route.id}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/local/${route.id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > GATEWAY_MAX_BODY_BYTES) return 'too-large'; // stop buffering; the rest is discarded
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(request: IncomingMessage, url: URL, body: Buffer, routeKey: string, pathParameters: Record<string, string> | undefined, requestId: string): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters,
    body: body.length ? body.toString('utf8') : undefined,
    isBase64Encoded: false,
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

function send(response: ServerResponse, result: ApiResult): void {
  response.writeHead(result.statusCode, result.headers);
  response.end(result.body ?? '');
}

function errorResult(status: number, code: string, message: string): ApiResult {
  return jsonResponse(status, { error: { code, message } });
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(request.url ?? '/', 'http://localhost');
  const body = await readBody(request);
  if (body === 'too-large') return send(response, errorResult(413, 'PAYLOAD_TOO_LARGE', `The request body exceeds ${GATEWAY_MAX_BODY_BYTES} bytes.`));

  const { match } = matchRoute(request.method ?? 'GET', url.pathname);
  const route = match?.route ?? FALLBACK_ROUTE;
  const routeKey = match ? `${route.method} ${route.path}` : '$default';
  const event = toEvent(request, url, body, routeKey, match?.pathParameters, requestId);

  if (route.authenticated) {
    const decision = await authorize(event);
    if (!decision.isAuthorized) {
      const denial = decision.denial ?? { code: 'TOKEN_INVALID', message: 'The token was refused.' };
      return send(response, errorResult(401, denial.code, denial.message));
    }
    (event.requestContext as unknown as Record<string, unknown>).authorizer = { lambda: decision.context };
    callers.set(response, callerLabel(decision.context));
  }
  const handler = await loadHandler(route);
  send(response, await handler(event, lambdaContext(route, requestId)));
}

/**
 * Serve the API on 127.0.0.1 (port 0 picks a free one). `onResponse` is called once per request when its
 * response is done (or its connection closed), with the request log's fields.
 */
export async function startLocalApi(options: { port?: number; onResponse?: (entry: RequestLogEntry) => void } = {}): Promise<LocalApi> {
  await Promise.all(ROUTES.map(loadHandler).concat(loadHandler(FALLBACK_ROUTE)));
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
    handle(request, response).catch((error: unknown) => {
      process.stderr.write(`local API: ${(error as Error).stack ?? String(error)}\n`);
      if (!response.headersSent) send(response, errorResult(500, 'INTERNAL_ERROR', 'The local API adapter failed; see its console.'));
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
