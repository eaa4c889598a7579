/**
 * The local API-Gateway-style HTTP adapter `npm start` serves: its request log (one entry per request, with
 * the caller the authorizer named), requests the gateway refuses before any handler, and a taken port.
 * Its own table on the shared DynamoDB Local (the harness) and its own adapters on free loopback ports.
 */
import { createServer, type Server } from 'node:net';
import { connect } from 'node:net';
import { startLocalApi, type LocalApi } from '../../../infra/local/http-adapter';
import type { RequestLogEntry } from '../../../functions/shared/http/request-log';
import { ApiHarness } from '../../support/api-harness';

/** What the health handler does in the next request: its real answer, throw, or a result Node cannot send. */
let mockHealthMode: 'real' | 'throw' | 'unsendable' = 'real';
jest.mock('../../../functions/api/health', () => {
  const actual = jest.requireActual<typeof import('../../../functions/api/health')>('../../../functions/api/health');
  return {
    ...actual,
    handler: (...args: Parameters<typeof actual.handler>) => {
      if (mockHealthMode === 'throw') return Promise.reject(new Error('the handler failed'));
      if (mockHealthMode === 'unsendable') return Promise.resolve({ statusCode: 200, headers: {}, body: 42 as unknown as string });
      return actual.handler(...args);
    },
  };
});

interface ErrorBody {
  error: { code: string; message: string };
}

const harness = new ApiHarness();
let api: LocalApi;
const log: RequestLogEntry[] = [];

beforeAll(async () => {
  await harness.start();
  api = await startLocalApi({ tokens: harness.issuer, onResponse: (entry) => log.push(entry) });
});

afterAll(async () => {
  await api.close();
  await harness.stop();
});

beforeEach(() => {
  log.length = 0;
  mockHealthMode = 'real';
});

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Bytes written on a fresh connection; the whole answer once the server closes it. */
function raw(request: string | Buffer, after?: (socket: ReturnType<typeof connect>) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(api.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(4_000, () => socket.destroy(new Error('the server neither answered nor closed within 4 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(request, () => after?.(socket));
  });
}

describe('Function: startLocalApi', () => {
  it('should log each request once with its method, its path without the query, its status and "anonymous" for a route without authentication', async () => {
    const response = await fetch(`${api.url}/health?probe=1`);
    expect(response.status).toBe(200);
    await response.text();
    await until(() => log.length > 0, 2_000);
    expect(log).toEqual([{ method: 'GET', path: '/health', status: 200, durationMs: expect.any(Number), caller: 'anonymous' }]);
  });

  it('should log the caller the authorizer named, as role:subject', async () => {
    const response = await fetch(`${api.url}/tenants`, { headers: { authorization: `Bearer ${harness.operatorToken}` } });
    expect(response.status).toBe(200);
    await response.text();
    await until(() => log.length > 0, 2_000);
    expect(log).toEqual([expect.objectContaining({ method: 'GET', path: '/tenants', status: 200, caller: 'operator:operator@test' })]);
  });

  it("should log a token refused for want of the route's scope under its role and subject", async () => {
    const response = await fetch(`${api.url}/tenants`, { headers: { authorization: `Bearer ${harness.tenantToken('acme-corp')}` } });
    expect(response.status).toBe(403);
    await response.text();
    await until(() => log.length > 0, 2_000);
    expect(log).toEqual([expect.objectContaining({ path: '/tenants', status: 403, caller: 'tenant:user@acme-corp' })]);
  });

  it('should refuse a request to an authenticated route without a token with a JSON 401 naming what is missing, and log it as anonymous', async () => {
    const response = await fetch(`${api.url}/tenants`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await response.json()) as ErrorBody).error.code).toBe('TOKEN_MISSING');
    await until(() => log.length > 0, 2_000);
    expect(log).toEqual([expect.objectContaining({ path: '/tenants', status: 401, caller: 'anonymous' })]);
  });

  it('should keep a repeated query parameter visible to the handler, which refuses it', async () => {
    const response = await fetch(`${api.url}/tenants?state=active&state=suspended`, { headers: { authorization: `Bearer ${harness.operatorToken}` } });
    const body = (await response.json()) as ErrorBody;
    expect(response.status).toBe(400);
    expect(body.error.message).toContain('state: may appear once');
  });

  it('should keep serving after a client resets its connection in the middle of the request headers', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(api.port, '127.0.0.1');
      socket.on('error', reject);
      socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Par', () => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    const response = await fetch(`${api.url}/health`);
    expect(response.status).toBe(200);
  });

  it('should answer a malformed request once and close the connection, reading nothing after it as a request', async () => {
    const answer = await raw('GET /health HTTP/1.1\r\nBad Header\r\n\r\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(answer.match(/^HTTP\/1\.1 \d{3} /gm)).toHaveLength(1);
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody).error.code).toBe('MALFORMED_REQUEST');
  });

  it('should answer a handler that throws with a JSON 500 and keep serving', async () => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      mockHealthMode = 'throw';
      const response = await fetch(`${api.url}/health`);
      expect(response.status).toBe(500);
      expect(((await response.json()) as ErrorBody).error).toEqual({ code: 'INTERNAL_ERROR', message: 'The local API adapter failed; see its console.' });
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('the handler failed'));
    } finally {
      stderr.mockRestore();
    }
    mockHealthMode = 'real';
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
  });

  it('should drop the connection, not send a half answer, when sending fails after the status line, and keep serving', async () => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      mockHealthMode = 'unsendable';
      await expect(raw('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).resolves.toBe('');
    } finally {
      stderr.mockRestore();
    }
    mockHealthMode = 'real';
    expect((await fetch(`${api.url}/health`)).status).toBe(200);
  });

  it('should fail to start on a port that is taken, with EADDRINUSE', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const { port } = holder.address() as { port: number };
    try {
      await expect(startLocalApi({ tokens: harness.issuer, port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
