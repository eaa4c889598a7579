/**
 * On AWS, every API request leaves one structured Powertools entry (method, path, status, duration, caller)
 * and every entry logged while it runs carries API Gateway's request id as the correlation id. The event is
 * API Gateway's payload 2.0 with its JWT authorizer (test/events/, from aws-powertools/powertools-lambda-typescript).
 */
import '../../support/log-level-info';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { z } from 'zod';
import event from '../../events/apigw-http-jwt-authorizer-auth.json';
import { apiRoute } from '../../../functions/shared/http/api-handler';
import { handler as notFound } from '../../../functions/api/not-found';
import { ApiError } from '../../../functions/shared/errors';
import { jsonResponse } from '../../../functions/shared/http/response';
import { callerLabel, requestLine } from '../../../functions/shared/http/request-log';
import type { Principal } from '../../../functions/auth/jwt-claims';
import { captureLogs } from '../../support/captured-logs';
import { jwtAuthorizer } from '../../support/events';

const context = { functionName: 'route', awsRequestId: 'lambda-request-1', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

function request(path: string, principal: Principal | null, requestId: string): APIGatewayProxyEventV2 {
  const tenantId = /^\/tenants\/([^/]+)/.exec(path)?.[1];
  return {
    ...event,
    routeKey: `GET ${path}`,
    rawPath: path,
    pathParameters: tenantId ? { tenantId } : undefined,
    requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET', path }, requestId, authorizer: principal ? { jwt: jwtAuthorizer(principal) } : undefined },
  } as unknown as APIGatewayProxyEventV2;
}

const route = apiRoute({ routeId: 'test-route', access: 'operator', params: z.object({ tenantId: z.string() }) }, async () => {
  throw new ApiError(409, 'ILLEGAL_TRANSITION', 'No.');
});
const ok = apiRoute({ routeId: 'ok-route', access: 'operator-or-own-tenant' }, async () => jsonResponse(200, { fine: true }));

let logs: ReturnType<typeof captureLogs>;
beforeAll(() => {
  logs = captureLogs();
});
beforeEach(() => logs.clear());
afterAll(() => logs.restore());

describe('Middleware: requestLog', () => {
  it('should log one Request entry with method, path, status, duration and caller, correlated by the request id', async () => {
    const result = await ok(request('/tenants', { subject: 'ops@example.com', role: 'operator' }, 'ZhNHJhhLjoEEPiw='), context);

    expect(result.statusCode).toBe(200);
    const entries = logs.entries().filter((entry) => entry.message === 'Request');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ method: 'GET', path: '/tenants', status: 200, caller: 'operator:ops@example.com', correlation_id: 'ZhNHJhhLjoEEPiw=', level: 'INFO' });
    expect(entries[0]?.durationMs).toEqual(expect.any(Number));
  });

  it('should log a refused request with its final status, and carry the correlation id and tenant on every entry of it', async () => {
    const result = await route(request('/tenants/acme-corp/suspend', { subject: 'acme-app', role: 'operator' }, 'req-409'), context);

    expect(result.statusCode).toBe(409);
    const entries = logs.entries();
    expect(entries.find((entry) => entry.message === 'Request')).toMatchObject({ status: 409, path: '/tenants/acme-corp/suspend', caller: 'operator:acme-app' });
    expect(entries.find((entry) => entry.message === 'Request refused')).toMatchObject({ code: 'ILLEGAL_TRANSITION', correlation_id: 'req-409', tenantId: 'acme-corp' });
    for (const entry of entries) expect(entry.correlation_id).toBe('req-409');
  });

  it('should log a 5xx raised without a cause as an ERROR entry carrying that error, and answer its code without internal detail', async () => {
    const unavailable = apiRoute({ routeId: 'unavailable-route', access: 'operator' }, async () => {
      throw new ApiError(503, 'WORKFLOW_UNAVAILABLE', 'The plan change could not be started; nothing was changed. Retry later.');
    });

    const result = await unavailable(request('/tenants', { subject: 'ops', role: 'operator' }, 'req-503'), context);

    expect(result.statusCode).toBe(503);
    expect(JSON.parse(result.body ?? '')).toEqual({ error: { code: 'WORKFLOW_UNAVAILABLE', message: 'The plan change could not be started; nothing was changed. Retry later.' } });
    const failed = logs.entries().find((entry) => entry.message === 'Request failed');
    expect(failed).toMatchObject({ level: 'ERROR', code: 'WORKFLOW_UNAVAILABLE', correlation_id: 'req-503', error: expect.objectContaining({ name: 'ApiError', message: expect.stringContaining('could not be started') }) });
    expect(logs.entries().find((entry) => entry.message === 'Request')).toMatchObject({ status: 503 });
  });

  it('should start each request clean: no correlation id or tenant left from the one before', async () => {
    await route(request('/tenants/acme-corp/suspend', { subject: 'a', role: 'operator' }, 'first'), context);
    await ok(request('/tenants', null, 'second'), context);

    const second = logs.entries().filter((entry) => entry.correlation_id !== 'first');
    expect(second.find((entry) => entry.message === 'Request')).toMatchObject({ status: 401, caller: 'anonymous', correlation_id: 'second' });
    for (const entry of second) expect(entry.tenantId).toBeUndefined();
  });

  it('should log the unknown routes too (404 from the $default route)', async () => {
    await notFound(request('/nowhere', null, 'req-404'), context);
    expect(logs.entries().find((entry) => entry.message === 'Request')).toMatchObject({ status: 404, path: '/nowhere', caller: 'anonymous', correlation_id: 'req-404' });
  });
});

describe('Function: requestLine', () => {
  it('should print the local line: method, path, status, ms and caller', () => {
    expect(requestLine({ method: 'POST', path: '/tenants/acme-corp/suspend', status: 200, durationMs: 12, caller: callerLabel({ role: 'operator', subject: 'local-operator' }) })).toBe(
      'POST /tenants/acme-corp/suspend 200 12ms operator:local-operator',
    );
    expect(callerLabel({ role: '', subject: '' })).toBe('anonymous');
  });
});
