/**
 * `GET`/`POST /_local/clock` as the local HTTP adapter serves them (behind the same authorizer and middleware
 * as every route): operator tokens only, 400 in the API's error shape for bad input with the clock left where
 * it was, 405 for other methods, and 404 CLOCK_NOT_SIMULATED when the stack runs on the wall clock. This file's
 * own table on the shared DynamoDB Local (the harness), its own adapters on free loopback ports.
 */
import { startLocalApi, type LocalApi } from '../../../infra/local/http-adapter';
import { MAX_ADVANCE_SECONDS, SimulatedClock, clockRoutes, installLocalClock } from '../../../infra/local/local-clock';
import * as clock from '../../../functions/shared/clock';
import { ApiHarness } from '../../support/api-harness';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const harness = new ApiHarness();
const simulated = new SimulatedClock();
let advances = 0;
let simulatedApi: LocalApi;
let wallApi: LocalApi;
let uninstall: () => void;

beforeAll(async () => {
  await harness.start();
  uninstall = installLocalClock(simulated);
  simulatedApi = await startLocalApi({
    tokens: harness.issuer,
    localRoutes: clockRoutes({
      clock: simulated,
      onAdvance: async (move) => {
        move();
        advances += 1;
        return { schedules: { fired: [], failed: [] } };
      },
    }),
  });
  wallApi = await startLocalApi({ tokens: harness.issuer, localRoutes: clockRoutes({ clock: undefined }) });
});

afterAll(async () => {
  uninstall();
  await Promise.all([simulatedApi.close(), wallApi.close()]);
  await harness.stop();
});

async function call(api: LocalApi, method: string, options: { token?: string | null; body?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? harness.operatorToken : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${api.url}/_local/clock`, { method, headers, body: options.body });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> & ErrorBody };
}

describe('POST /_local/clock on a simulated clock', () => {
  it('should move the clock forward by advanceSeconds, run what an advance sets off, and answer the new time', async () => {
    const before = simulated.offsetSeconds;
    const answer = await call(simulatedApi, 'POST', { body: JSON.stringify({ advanceSeconds: 86_400 }) });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ now: expect.any(String), simulated: true, offsetSeconds: before + 86_400, schedules: { fired: [], failed: [] } });
    expect(Math.abs(Date.parse(answer.body.now as string) - (Date.now() + (before + 86_400) * 1000))).toBeLessThan(2000);
    expect(Math.abs(clock.now().getTime() - Date.parse(answer.body.now as string))).toBeLessThan(2000);
    expect(advances).toBe(1);
  });

  it('should answer GET with the stack time, simulated, and the offset', async () => {
    const answer = await call(simulatedApi, 'GET');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ now: expect.any(String), simulated: true, offsetSeconds: simulated.offsetSeconds });
  });

  it('should refuse a request without a token (401) and a tenant-scoped token (403), and not move the clock', async () => {
    const offset = simulated.offsetSeconds;
    const calls = advances;
    const anonymous = await call(simulatedApi, 'POST', { token: null, body: '{"advanceSeconds":60}' });
    const tenant = await call(simulatedApi, 'POST', { token: harness.tenantToken('acme-corp'), body: '{"advanceSeconds":60}' });
    const tenantRead = await call(simulatedApi, 'GET', { token: harness.tenantToken('acme-corp') });

    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, 'TOKEN_MISSING']);
    expect([tenant.status, tenant.body.error.code, tenantRead.status]).toEqual([403, 'FORBIDDEN', 403]);
    expect([simulated.offsetSeconds, advances]).toEqual([offset, calls]);
  });

  it.each([
    ['zero', '{"advanceSeconds":0}', 'VALIDATION_FAILED', 'advanceSeconds'],
    ['a negative number', '{"advanceSeconds":-3600}', 'VALIDATION_FAILED', 'advanceSeconds'],
    ['a fraction', '{"advanceSeconds":1.5}', 'VALIDATION_FAILED', 'advanceSeconds'],
    ['a string', '{"advanceSeconds":"3600"}', 'VALIDATION_FAILED', 'advanceSeconds'],
    ['more than ten years', `{"advanceSeconds":${MAX_ADVANCE_SECONDS + 1}}`, 'VALIDATION_FAILED', 'advanceSeconds'],
    ['no advanceSeconds', '{}', 'VALIDATION_FAILED', 'advanceSeconds'],
    ['an unknown field', '{"advanceSeconds":60,"backwards":true}', 'VALIDATION_FAILED', 'backwards'],
    ['malformed JSON', '{"advanceSeconds":', 'MALFORMED_JSON', undefined],
  ])('should refuse %s with 400 %s naming what to send, and not move the clock', async (_what, body, code, field) => {
    const offset = simulated.offsetSeconds;
    const calls = advances;
    const answer = await call(simulatedApi, 'POST', { body });

    expect([answer.status, answer.body.error.code]).toEqual([400, code]);
    expect(answer.body.error.message).not.toBe('');
    if (field) expect(answer.body.error.details).toEqual([expect.objectContaining({ in: 'body', field })]);
    expect([simulated.offsetSeconds, advances]).toEqual([offset, calls]);
  });

  it('should refuse a body that is not JSON (415) and another method (405 with Allow)', async () => {
    const text = await call(simulatedApi, 'POST', { body: 'advanceSeconds=60', contentType: 'text/plain' });
    const put = await call(simulatedApi, 'PUT', { body: '{"advanceSeconds":60}' });

    expect([text.status, text.body.error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect([put.status, put.body.error.code, put.headers.get('allow')]).toEqual([405, 'METHOD_NOT_ALLOWED', 'GET, POST']);
  });
});

describe('POST /_local/clock: how long it may run', () => {
  it("should give the advance the time it was given (the stack's: its settle of the workflows and more), not the API routes' 10 s, which would end a long advance in a 500", async () => {
    const seen: number[] = [];
    const routes = clockRoutes({ clock: simulated, advanceTimeoutSeconds: 90, onAdvance: async (move) => (move(), {}) }).map((route) => ({
      ...route,
      handler: (event: Parameters<typeof route.handler>[0], context: Parameters<typeof route.handler>[1]) => (seen.push(context.getRemainingTimeInMillis()), route.handler(event, context)),
    }));
    const api = await startLocalApi({ tokens: harness.issuer, localRoutes: routes });
    try {
      expect((await call(api, 'POST', { body: '{"advanceSeconds":60}' })).status).toBe(200);
      expect((await call(api, 'GET')).status).toBe(200);
    } finally {
      await api.close();
    }

    const [advance = 0, read = Infinity] = seen;
    expect(advance).toBeGreaterThan(80_000);
    expect(advance).toBeLessThanOrEqual(90_000);
    expect(read).toBeLessThanOrEqual(10_000); // the reading keeps the routes' default
  });
});

describe('POST /_local/clock with nothing to set off', () => {
  it('should move the clock and answer the new reading alone when the stack gives no onAdvance', async () => {
    const own = new SimulatedClock();
    const api = await startLocalApi({ tokens: harness.issuer, localRoutes: clockRoutes({ clock: own }) });
    try {
      const answer = await call(api, 'POST', { body: '{"advanceSeconds":120}' });
      expect([answer.status, answer.body]).toEqual([200, { now: expect.any(String), simulated: true, offsetSeconds: 120 }]);
      expect(own.offsetSeconds).toBe(120);
    } finally {
      await api.close();
    }
  });
});

describe('/_local/clock on the wall clock', () => {
  it('should answer POST with 404 CLOCK_NOT_SIMULATED that says how to start a simulated clock', async () => {
    const answer = await call(wallApi, 'POST', { body: '{"advanceSeconds":60}' });
    expect([answer.status, answer.body.error.code]).toEqual([404, 'CLOCK_NOT_SIMULATED']);
    expect(answer.body.error.message).toContain('npm start -- --clock=simulated');
  });

  it('should still refuse POST without an operator token before saying anything of the clock', async () => {
    expect((await call(wallApi, 'POST', { token: null, body: '{"advanceSeconds":60}' })).status).toBe(401);
  });

  it('should answer GET with the wall time, not simulated', async () => {
    const answer = await call(wallApi, 'GET');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ now: expect.any(String), simulated: false, offsetSeconds: 0 });
    expect(Math.abs(Date.parse(answer.body.now as string) - Date.now())).toBeLessThan(2000);
  });

  it('should not serve /_local/clock from the shared route table: an adapter without local routes answers 404 ROUTE_NOT_FOUND', async () => {
    const answer = await harness.request('GET', '/_local/clock');
    expect([answer.status, (answer.body as unknown as ErrorBody).error.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
  });
});
