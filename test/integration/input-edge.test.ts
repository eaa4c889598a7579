/**
 * The input edge, route by route: prototype keys, numbers, text, connections after a refusal, the error shape
 * of what the HTTP server answers itself, and messages that say what to fix. The fields and parameters are
 * read from the OpenAPI document built from the handlers' own schemas, so a new route or field is covered
 * without touching this file. Every refusal leaves the table as it was.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { buildOpenApiDocument } from '../../functions/api/openapi';
import { ROUTES, type RouteDefinition } from '../../functions/api/routes';
import { ApiHarness, type ApiResponse, type RequestOptions } from '../support/api-harness';

const api = new ApiHarness();
let snapshot: Record<string, unknown>[];

beforeAll(async () => {
  await api.start();
  await api.createTenant('acme-corp');
  snapshot = await api.tableSnapshot();
});
afterAll(() => api.stop());

type ErrorBody = { error?: { code?: string; message?: string; details?: Array<{ in?: string; field?: string; message?: string }> } };
type Schema = { type?: string; properties?: Record<string, Schema>; $ref?: string; minimum?: number; maximum?: number; enum?: unknown[] };

const document = buildOpenApiDocument() as unknown as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> }; parameters?: Array<{ in?: string; name?: string; schema?: Schema; $ref?: string }> }>>;
  components: { schemas: Record<string, Schema> };
};

function resolve(schema: Schema): Schema {
  return schema.$ref ? resolve(document.components.schemas[schema.$ref.split('/').pop() as string] as Schema) : schema;
}

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
const KNOWN_LEASE = randomUUID();

/** A concrete path for a route: the seeded tenant, a well-formed lease or operation id. */
function pathOf(route: RouteDefinition): string {
  return route.path.replace('{tenantId}', 'acme-corp').replace('{leaseId}', KNOWN_LEASE).replace('{operationId}', `op_${randomUUID()}`).replace('{exportId}', `op_${randomUUID()}`);
}

function operationOf(route: RouteDefinition) {
  return document.paths[route.path]?.[route.method.toLowerCase()];
}

function bodySchemaOf(route: RouteDefinition): Schema | undefined {
  const schema = operationOf(route)?.requestBody?.content['application/json']?.schema;
  return schema ? resolve(schema) : undefined;
}

/** Every field of a body schema, nested objects included, with its dotted path. */
function fieldsOf(schema: Schema, prefix: string[] = []): Array<{ path: string[]; schema: Schema }> {
  return Object.entries(schema.properties ?? {}).flatMap(([name, raw]) => {
    const field = resolve(raw);
    const path = [...prefix, name];
    return [{ path, schema: field }, ...(field.type === 'object' ? fieldsOf(field, path) : [])];
  });
}

/** `{ a: { b: value } }` for the path a.b, as JSON text, so values JSON.stringify cannot write (1e400) go out as typed. */
function jsonAt(path: readonly string[], rawValue: string): string {
  return path.reduceRight((inner, key) => `{${JSON.stringify(key)}:${inner}}`, rawValue);
}

// A route verified by a signature (the Stripe webhook) refuses an unsigned body before reading it: its own test
// (test/integration/dunning/stripe-webhook.test.ts) covers what it refuses.
const BODY_ROUTES = ROUTES.filter((route) => bodySchemaOf(route) && route.verifiedBy === undefined);
const BODY_FIELDS = BODY_ROUTES.flatMap((route) => fieldsOf(bodySchemaOf(route) as Schema).map((field) => ({ route, ...field, name: `${route.id} ${field.path.join('.')}` })));
const QUERY_PARAMETERS = ROUTES.flatMap((route) =>
  (operationOf(route)?.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => ({ route, parameter, name: `${route.id} ?${parameter.name}` })),
);

function json(options: RequestOptions & { raw?: string } = {}): RequestOptions {
  return options.raw === undefined ? options : { ...options, rawBody: options.raw, headers: { 'content-type': 'application/json', ...options.headers } };
}

async function expectRefused(response: ApiResponse<ErrorBody>, status: number, code: string, field?: string): Promise<string> {
  expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status, code });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const detail = field === undefined ? undefined : response.body.error?.details?.find((d) => d.field === field);
  if (field !== undefined) expect(detail).toBeDefined();
  expect(await api.tableSnapshot()).toEqual(snapshot);
  return detail?.message ?? response.body.error?.message ?? '';
}

describe('prototype keys are input like any other', () => {
  it('covers every route of the route table', () => {
    expect(ROUTES.length).toBeGreaterThanOrEqual(14);
    expect(BODY_ROUTES.map((route) => route.id)).toEqual(expect.arrayContaining(['CreateTenant', 'ReportUsage', 'ChangePlan', 'AcquireQueryLease']));
  });

  it.each(ROUTES.flatMap((route) => PROTOTYPE_KEYS.map((key) => ({ route, key, name: `${route.method} ${route.path} ?${key}=1` }))))(
    'should treat $name as an unknown query parameter',
    async ({ route, key }) => {
      const unknown = await api.request<ErrorBody>(route.method, `${pathOf(route)}?colour=1`, json({ raw: bodySchemaOf(route) ? '{}' : undefined }));
      const response = await api.request<ErrorBody>(route.method, `${pathOf(route)}?${key}=1`, json({ raw: bodySchemaOf(route) ? '{}' : undefined }));
      expect(response.status).toBe(unknown.status);
      expect(response.body?.error?.code).toBe(unknown.body?.error?.code);
      if (unknown.status === 400) expect(response.body.error?.details?.map((d) => d.field)).toContain(key);
      expect(await api.tableSnapshot()).toEqual(snapshot);
    },
  );

  it.each(ROUTES.map((route) => ({ route, name: `${route.method} ${route.path}` })))('should answer $name the same with __proto__, constructor and prototype headers', async ({ route }) => {
    const path = pathOf(route).replace('acme-corp', 'no-such-tenant');
    const body = route.id === 'CreateTenant' ? '{"tenantId":"acme-corp","name":"Acme","email":"a@acme.example"}' : bodySchemaOf(route) ? '{}' : undefined;
    const plain = await api.request<ErrorBody>(route.method, path, json({ raw: body }));
    const withKeys = await api.request<ErrorBody>(route.method, path, json({ raw: body, headers: { ['__proto__']: 'x', constructor: 'y', prototype: 'z' } }));
    expect(withKeys.status).toBeLessThan(500);
    expect({ status: withKeys.status, code: withKeys.body?.error?.code }).toEqual({ status: plain.status, code: plain.body?.error?.code });
    expect(await api.tableSnapshot()).toEqual(snapshot);
  });

  const TENANT_ROUTES = ROUTES.filter((route) => route.path.includes('{tenantId}'));
  it.each(TENANT_ROUTES.flatMap((route) => PROTOTYPE_KEYS.map((key) => ({ route, key, name: `${route.method} ${route.path} with tenantId ${key}` }))))(
    'should answer $name as for any other tenant id, never 5xx',
    async ({ route, key }) => {
      const body = bodySchemaOf(route) ? '{}' : undefined;
      const other = await api.request<ErrorBody>(route.method, pathOf(route).replace('acme-corp', 'no-such-tenant'), json({ raw: body }));
      const response = await api.request<ErrorBody>(route.method, pathOf(route).replace('acme-corp', key), json({ raw: body }));
      expect(response.status).toBeLessThan(500);
      // `constructor` and `prototype` are well-formed tenant ids (unknown ones); `__proto__` is not one.
      if (key === '__proto__') expect(response.body.error?.details?.map((d) => d.field)).toContain('tenantId');
      else expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status: other.status, code: other.body?.error?.code });
      expect(await api.tableSnapshot()).toEqual(snapshot);
    },
  );

  const objectPaths = BODY_ROUTES.flatMap((route) => [
    { route, path: [] as string[] },
    ...fieldsOf(bodySchemaOf(route) as Schema).filter((field) => field.schema.type === 'object').map((field) => ({ route, path: field.path })),
  ]);
  it.each(objectPaths.flatMap(({ route, path }) => PROTOTYPE_KEYS.map((key) => ({ route, path, key, name: `${route.id} ${[...path, key].join('.')}` }))))(
    'should refuse the JSON key $name as unknown',
    async ({ route, path, key }) => {
      const response = await api.request<ErrorBody>(route.method, pathOf(route), json({ raw: jsonAt([...path, key], '{"tenantId":"evil","name":"x"}') }));
      const message = await expectRefused(response, 400, 'VALIDATION_FAILED', [...path, key].join('.'));
      expect(message).toContain(key);
    },
  );

  // Raw JSON: in a JS object literal `__proto__` would set the prototype instead of making a key.
  it.each([
    ['a tenant-list cursor with a __proto__ key', '/tenants', '{"state":"active","__proto__":{"after":{"tenantId":"x","stateChangedAt":"y"}}}'],
    ['a tenant-list cursor with a constructor key', '/tenants', '{"state":"active","constructor":{"prototype":1}}'],
    ['a tenant-list cursor whose after has a __proto__ key', '/tenants', '{"state":"active","after":{"tenantId":"acme-corp","stateChangedAt":"2026-01-01T00:00:00.000Z","__proto__":{"pk":"x"}}}'],
    ['a history cursor with a __proto__ key', '/tenants/acme-corp/history', '{"before":2,"__proto__":{"pk":"TENANT#other-co"}}'],
    ['a history cursor past 2^53', '/tenants/acme-corp/history', '{"before":9007199254740993}'],
  ])('should refuse %s', async (_name, path, cursor) => {
    await expectRefused(await api.request<ErrorBody>('GET', `${path}?cursor=${Buffer.from(cursor).toString('base64url')}`), 400, 'INVALID_CURSOR');
  });
});

describe('numbers have bounds that survive JSON and DynamoDB', () => {
  const numericFields = BODY_FIELDS.filter((field) => field.schema.type === 'integer' || field.schema.type === 'number');

  it('finds the numeric fields, and each has a minimum and a maximum within exact integers', () => {
    expect(numericFields.map((field) => field.name)).toEqual(expect.arrayContaining(['ReportUsage usage.storageGb', 'CreateTenant usage.users', 'ChangePlan drainTimeoutSeconds', 'AcquireQueryLease ttlSeconds']));
    for (const field of [...numericFields.map((f) => f.schema), ...QUERY_PARAMETERS.map((q) => q.parameter.schema as Schema).filter((s) => s.type === 'integer' || s.type === 'number')]) {
      expect(typeof field.minimum).toBe('number');
      expect(typeof field.maximum).toBe('number');
      expect(field.maximum as number).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    }
  });

  const BAD_NUMBERS: Array<{ raw: string; what: string; integerOnly?: boolean; bound?: 'maximum' | 'minimum' }> = [
    { raw: '1e308', what: 'past the maximum', bound: 'maximum' },
    { raw: '9007199254740993', what: 'past 2^53', bound: 'maximum' },
    { raw: '1e400', what: 'that JSON reads as Infinity' },
    { raw: '-1', what: 'below the minimum', bound: 'minimum' },
    { raw: '1.5', what: 'with a fraction', integerOnly: true },
    { raw: '0.0001', what: 'more precise than the field' },
    { raw: '"NaN"', what: 'NaN as a string' },
    { raw: '"12"', what: 'a number as a string' },
  ];
  it.each(numericFields.flatMap((field) => BAD_NUMBERS.filter((bad) => !bad.integerOnly || field.schema.type === 'integer').map((bad) => ({ ...field, bad, label: `${field.name} = ${bad.raw} (${bad.what})` }))))(
    'should refuse $label with 400 naming the field and the bound',
    async ({ route, path, schema, bad }) => {
      const response = await api.request<ErrorBody>(route.method, pathOf(route), json({ raw: jsonAt(path, bad.raw) }));
      const message = await expectRefused(response, 400, 'VALIDATION_FAILED', path.join('.'));
      if (bad.bound) expect(message).toContain(String(schema[bad.bound]));
    },
  );

  const BAD_QUERY_NUMBERS = ['1e308', '9007199254740993', '-1', '1.5', 'NaN', 'Infinity', '0x10', '1e1', '', '%205'];
  it.each(
    QUERY_PARAMETERS.filter((q) => q.parameter.schema?.type === 'integer').flatMap((q) => BAD_QUERY_NUMBERS.map((value) => ({ ...q, value, label: `${q.name}=${value}` }))),
  )('should refuse $label with 400 naming the parameter', async ({ route, parameter, value }) => {
    const message = await expectRefused(await api.request<ErrorBody>(route.method, `${pathOf(route)}?${parameter.name}=${value}`), 400, 'VALIDATION_FAILED', parameter.name);
    expect(message).toMatch(/\d/);
  });

  it('should refuse a usage report of 1e308 GB (it was a 500) and 2^53 + 1 users', async () => {
    for (const raw of ['{"usage":{"queriesPerMonth":1,"storageGb":1e308,"documents":1,"users":1}}', '{"usage":{"queriesPerMonth":1,"storageGb":1,"documents":1,"users":9007199254740993}}']) {
      await expectRefused(await api.request<ErrorBody>('PUT', '/tenants/acme-corp/usage', json({ raw })), 400, 'VALIDATION_FAILED');
    }
  });

  it('should validate before looking for an existing tenant: 400 for a huge usage, 409 TENANT_EXISTS for a valid one', async () => {
    const create = (storageGb: string) =>
      api.request<ErrorBody>('POST', '/tenants', json({ raw: `{"tenantId":"acme-corp","name":"Acme","email":"a@acme.example","usage":{"storageGb":${storageGb}}}` }));
    await expectRefused(await create('1e308'), 400, 'VALIDATION_FAILED', 'usage.storageGb');
    await expectRefused(await create('12.5'), 409, 'TENANT_EXISTS');
  });

  it('should store the largest values exactly and read them back', async () => {
    const usage = resolve(document.components.schemas.ReportUsageRequest as Schema).properties?.usage as Schema;
    const max = Object.fromEntries(Object.entries(resolve(usage).properties ?? {}).map(([name, field]) => [name, field.maximum as number]));
    const response = await api.request<{ usage: Record<string, number> }>('PUT', '/tenants/bounds-co/usage', { body: { usage: max } });
    expect(response.status).toBe(404); // no such tenant: the values passed validation
    await api.createTenant('bounds-co', { plan: 'enterprise', usage: max });
    const read = await api.request<{ usage: Record<string, number> }>('GET', '/tenants/bounds-co');
    expect(read.body.usage).toEqual(max);
    await api.request('PUT', '/tenants/bounds-co/usage', { body: { usage: { ...max, storageGb: 0.001 } } });
    expect((await api.request<{ usage: Record<string, number> }>('GET', '/tenants/bounds-co')).body.usage.storageGb).toBe(0.001);
    snapshot = await api.tableSnapshot();
  });
});

describe('text', () => {
  const stringFields = BODY_FIELDS.filter((field) => field.schema.type === 'string' && !field.schema.enum);

  it.each(stringFields.flatMap((field) => ['\u0000', '\u0007', '\t', '\n', '\u001b', '\u007f', '\u0085', '\u009f'].map((char) => ({ ...field, char, label: `${field.name} with U+${char.charCodeAt(0).toString(16).padStart(4, '0')}` }))))(
    'should refuse $label',
    async ({ route, path, char }) => {
      const response = await api.request<ErrorBody>(route.method, pathOf(route), json({ raw: jsonAt(path, JSON.stringify(`a${char}b`)) }));
      await expectRefused(response, 400, 'VALIDATION_FAILED', path.join('.'));
      const messages = (response.body.error?.details ?? []).filter((d) => d.field === path.join('.')).map((d) => d.message);
      expect(messages.some((message) => /control character/.test(message ?? ''))).toBe(true);
    },
  );

  it('gives every string field a maximum length', () => {
    const unbounded = stringFields.filter((field) => (field.schema as { maxLength?: number }).maxLength === undefined).map((field) => field.name);
    expect(unbounded).toEqual([]);
  });

  it('should refuse an email longer than SMTP carries (254 characters), and take one of 254', async () => {
    const email = (length: number) => `${'a'.repeat(64)}@${'b'.repeat(length - 64 - 1 - 8)}.example`;
    const long = await api.request<ErrorBody>('POST', '/tenants', { body: { tenantId: 'long-email', name: 'Long', email: email(255) } });
    expect(await expectRefused(long, 400, 'VALIDATION_FAILED', 'email')).toMatch(/at most 254/);
    const longest = await api.request<ErrorBody>('POST', '/tenants', { body: { tenantId: 'longest-email', name: 'Longest', email: email(254) } });
    expect(longest.status).toBe(201);
    snapshot = await api.tableSnapshot();
  });

  it.each(stringFields.map((field) => ({ ...field, label: field.name })))('should refuse a lone surrogate in $label', async ({ route, path }) => {
    await expectRefused(await api.request<ErrorBody>(route.method, pathOf(route), json({ raw: jsonAt(path, '"a\\ud800b"') })), 400, 'VALIDATION_FAILED', path.join('.'));
  });

  it('should refuse a body that is not UTF-8, on a route with a body and one without', async () => {
    const invalid = Buffer.concat([Buffer.from('{"name":"Acme '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","email":"a@acme.example"}')]);
    const created = await api.request<ErrorBody>('POST', '/tenants', { rawBody: invalid, headers: { 'content-type': 'application/json' } });
    const message = await expectRefused(created, 400, 'MALFORMED_UTF8');
    expect(message).toMatch(/UTF-8/);
    await expectRefused(await api.request<ErrorBody>('POST', '/tenants/acme-corp/suspend', { rawBody: Buffer.from([0x7b, 0xff, 0x7d]), headers: { 'content-type': 'application/json; charset=utf-8' } }), 400, 'MALFORMED_UTF8');
  });

  it('should refuse the replacement character a lossy decoding leaves behind, sent as is or escaped', async () => {
    const literal = await api.request<ErrorBody>('POST', '/tenants', { rawBody: '{"name":"Acme \ufffd","email":"a@acme.example"}', headers: { 'content-type': 'application/json' } });
    expect(await expectRefused(literal, 400, 'MALFORMED_UTF8')).toMatch(/U\+FFFD/);
    const escaped = await api.request<ErrorBody>('POST', '/tenants', { rawBody: '{"name":"Acme \\ufffd","email":"a@acme.example"}', headers: { 'content-type': 'application/json' } });
    expect(await expectRefused(escaped, 400, 'VALIDATION_FAILED', 'name')).toMatch(/U\+FFFD/);
  });

  it('should store markup in a name as given: JSON output encodes it, and it is data', async () => {
    const created = await api.request<{ name: string }>('POST', '/tenants', { body: { tenantId: 'markup-co', name: '<script>alert(1)</script> & Sons', email: 'a@markup.example' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await api.request<{ name: string }>('GET', '/tenants/markup-co')).body.name).toBe('<script>alert(1)</script> & Sons');
    snapshot = await api.tableSnapshot();
  });

  it('should keep names in other scripts and emoji', async () => {
    const created = await api.request<{ name: string }>('POST', '/tenants', { body: { tenantId: 'unicode-co', name: 'Zürich 東京 مرحبا 👩‍💻', email: 'a@unicode.example' } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe('Zürich 東京 مرحبا 👩‍💻');
    snapshot = await api.tableSnapshot();
  });
});

describe('If-Match and the request target', () => {
  it.each(['"0x11"', '1e1', '" 3"', '"3.0"', '"-1"', 'W/"x"'])('should refuse If-Match %s as INVALID_IF_MATCH, changing nothing', async (ifMatch) => {
    await expectRefused(await api.request<ErrorBody>('POST', '/tenants/acme-corp/suspend', { body: {}, headers: { 'if-match': ifMatch } }), 400, 'INVALID_IF_MATCH');
  });

  it('should take If-Match: * as any current version (RFC 9110), and a version as the ETag gives it', async () => {
    const tenant = await api.request<{ version: number }>('GET', '/tenants/acme-corp');
    expect((await api.request('POST', '/tenants/acme-corp/suspend', { body: {}, headers: { 'if-match': '*' } })).status).toBe(200);
    expect((await api.request('POST', '/tenants/acme-corp/resume', { body: {}, headers: { 'if-match': `W/"${tenant.body.version + 1}"` } })).status).toBe(200);
    snapshot = await api.tableSnapshot();
  });

  it('should read a request target starting with // as a path, not a host name: 404, nothing changed', async () => {
    const response = await api.request<ErrorBody>('POST', '//x/tenants/acme-corp/suspend', { body: {} });
    expect(await expectRefused(response, 404, 'ROUTE_NOT_FOUND')).toContain('//x/tenants/acme-corp/suspend');
  });
});

describe('messages say what to fix', () => {
  it('should say a missing field is required', async () => {
    const response = await api.request<ErrorBody>('POST', '/tenants', { body: { email: 'a@acme.example' } });
    const message = await expectRefused(response, 400, 'VALIDATION_FAILED', 'name');
    expect(message).toBe('required');
  });

  it('should say which type a field takes', async () => {
    const message = await expectRefused(await api.request<ErrorBody>('POST', '/tenants', { body: { name: 42, email: 'a@acme.example' } }), 400, 'VALIDATION_FAILED', 'name');
    expect(message).toMatch(/must be a string/);
    expect(message).not.toMatch(/Invalid input/);
  });

  it('should list the values of an enum', async () => {
    const message = await expectRefused(await api.request<ErrorBody>('POST', '/tenants/acme-corp/plan', { body: { plan: 'gold' } }), 400, 'VALIDATION_FAILED', 'plan');
    expect(message).toMatch(/free, starter, professional, enterprise/);
  });

  it('should say that a query parameter may appear once', async () => {
    const message = await expectRefused(await api.request<ErrorBody>('GET', '/tenants?state=active&state=suspended'), 400, 'VALIDATION_FAILED', 'state');
    expect(message).toMatch(/once/);
    expect(message).not.toMatch(/must be one of/);
    const limit = await expectRefused(await api.request<ErrorBody>('GET', '/tenants/acme-corp/history?limit=5&limit=5'), 400, 'VALIDATION_FAILED', 'limit');
    expect(limit).toMatch(/once/);
  });

  it('should keep a single value with a comma in it a single value', async () => {
    const message = await expectRefused(await api.request<ErrorBody>('GET', '/tenants?state=active%2Csuspended'), 400, 'VALIDATION_FAILED', 'state');
    expect(message).toMatch(/must be one of/);
  });
});

describe('connections after an early refusal', () => {
  interface RawAnswer {
    status: number;
    headers: IncomingHttpHeaders;
    body: string;
    socketId: number;
  }
  let sockets = 0;

  function send(agent: Agent, method: string, path: string, headers: Record<string, string | number>, body?: Buffer | string): Promise<RawAnswer> {
    return new Promise((resolvePromise, reject) => {
      const url = new URL(path, api.url);
      const request = httpRequest({ agent, method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const socket = request.socket as unknown as { edgeTestId?: number };
          socket.edgeTestId ??= ++sockets;
          resolvePromise({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8'), socketId: socket.edgeTestId });
        });
      });
      request.setTimeout(4_000, () => request.destroy(new Error(`no answer to ${method} ${path} within 4 s`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  const token = () => `Bearer ${api.operatorToken}`;
  const REFUSALS: Array<{ name: string; status: number; code: string; method: string; path: string; headers: () => Record<string, string | number>; body?: Buffer }> = [
    { name: '413 for an 11 MiB body', status: 413, code: 'PAYLOAD_TOO_LARGE', method: 'POST', path: '/tenants', headers: () => ({ authorization: token(), 'content-type': 'application/json' }), body: Buffer.alloc(11 * 1024 * 1024, 0x20) },
    { name: '415 for a form body', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', method: 'POST', path: '/tenants', headers: () => ({ authorization: token(), 'content-type': 'application/x-www-form-urlencoded' }), body: Buffer.from('name=x') },
    { name: '401 without a token, with a body', status: 401, code: 'TOKEN_MISSING', method: 'POST', path: '/tenants', headers: () => ({ 'content-type': 'application/json' }), body: Buffer.from('{"name":"x"}') },
    { name: '417 for an Expect header other than 100-continue', status: 417, code: 'EXPECTATION_FAILED', method: 'POST', path: '/tenants', headers: () => ({ authorization: token(), 'content-type': 'application/json', expect: 'teapot' }), body: Buffer.from('{"name":"x"}') },
    { name: '431 for a 20 KB Authorization header', status: 431, code: 'REQUEST_HEADERS_TOO_LARGE', method: 'GET', path: '/tenants', headers: () => ({ authorization: `Bearer ${'a'.repeat(20_000)}` }) },
    { name: '431 for 12 KB of headers (over API Gateway 10240 bytes, under Node 16 KiB)', status: 431, code: 'REQUEST_HEADERS_TOO_LARGE', method: 'POST', path: '/tenants', headers: () => ({ authorization: token(), 'x-padding': 'p'.repeat(12_000), 'content-type': 'application/json' }), body: Buffer.from('{"name":"x"}') },
  ];

  it.each(REFUSALS)('should answer $name in the JSON error shape, then answer the next request on the same agent', async ({ status, code, method, path, headers, body }) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await send(agent, method, path, headers(), body);
      expect(refused.status).toBe(status);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect((JSON.parse(refused.body) as ErrorBody).error?.code).toBe(code);
      const started = Date.now();
      const next = await send(agent, 'GET', '/tenants/acme-corp', { authorization: token() });
      expect(next.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2_000);
      if (refused.headers.connection !== 'close') expect(next.socketId).toBe(refused.socketId);
    } finally {
      agent.destroy();
    }
  });

  it('should answer a request line it cannot parse with a JSON 400 and close the connection', async () => {
    const answer = await new Promise<string>((resolvePromise, reject) => {
      const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.setTimeout(4_000, () => socket.destroy(new Error('the server neither answered nor closed within 4 s')));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
      socket.write('GET /tenants HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\ncontent-type: application\/json/i);
    expect(answer).toMatch(/\r\nconnection: close/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } });
  });
});
