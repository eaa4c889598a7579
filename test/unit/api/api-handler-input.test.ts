/**
 * The handler stack on its own, with events shaped as API Gateway HTTP API (payload 2.0) delivers them on AWS
 * (`test/events/apigw-http-jwt-authorizer-auth.json`, copied from aws-powertools/powertools-lambda-typescript,
 * MIT-0): the checks that protect a handler live in `apiRoute`, not only in the local adapter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { apiRoute } from '../../../functions/shared/http/api-handler';
import { jsonResponse } from '../../../functions/shared/http/response';
import { createTenantBodySchema, listTenantsQuerySchema } from '../../../functions/tenants/tenant-schemas';
import { jwtAuthorizer } from '../../support/events';

const FIXTURE = readFileSync(join(__dirname, '..', '..', 'events', 'apigw-http-jwt-authorizer-auth.json'), 'utf8');

const handler = apiRoute({ routeId: 'EdgeProbe', access: 'operator', query: listTenantsQuerySchema, body: createTenantBodySchema }, async ({ query, body }) =>
  jsonResponse(200, { query, body }),
);

const context = { functionName: 'edge-probe', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

/** An event as the Lambda runtime hands it over: parsed from JSON text, so `__proto__` is an own key, not a prototype. */
function event(overrides: string): APIGatewayProxyEventV2 {
  const base = JSON.parse(FIXTURE) as Record<string, unknown>;
  const patch = JSON.parse(overrides) as Record<string, unknown>;
  const merged = { ...base, ...patch, headers: { ...(base.headers as object), ...(patch.headers as object) } } as unknown as APIGatewayProxyEventV2;
  (merged.requestContext as unknown as { authorizer: unknown }).authorizer = { jwt: jwtAuthorizer({ subject: 'op@test', role: 'operator' }) };
  return merged;
}

type Answer = { statusCode: number; body: string };
async function call(overrides: string): Promise<{ status: number; body: { error?: { code: string; message: string; details?: Array<{ field: string; message: string }> }; query?: unknown; body?: unknown } }> {
  const result = (await handler(event(overrides), context)) as Answer;
  return { status: result.statusCode, body: JSON.parse(result.body) as never };
}

const VALID = Buffer.from('{"name":"Acme","email":"a@acme.example"}');

describe('apiRoute: the input edge as AWS delivers it', () => {
  it('should refuse a repeated query parameter that API Gateway joined with a comma', async () => {
    const { status, body } = await call('{"rawQueryString":"state=active&state=suspended","queryStringParameters":{"state":"active,suspended"}}');
    expect(status).toBe(400);
    expect(body.error?.details).toEqual([{ in: 'query', field: 'state', message: 'may appear once: send a single state' }]);
  });

  it('should keep one value with an escaped comma one value', async () => {
    const { status, body } = await call('{"rawQueryString":"state=active%2Csuspended","queryStringParameters":{"state":"active,suspended"}}');
    expect(status).toBe(400);
    expect(body.error?.details?.[0]?.message).toMatch(/^must be one of active, /);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('should refuse the query key %s as unknown', async (key) => {
    const { status, body } = await call(`{"rawQueryString":"${key}=1","queryStringParameters":{"${key}":"1"}}`);
    expect(status).toBe(400);
    expect(body.error?.details?.map((d) => d.field)).toEqual([key]);
  });

  it('should read a base64-encoded JSON body (API Gateway base64-encodes media types it does not treat as text)', async () => {
    const { status, body } = await call(JSON.stringify({ body: VALID.toString('base64'), isBase64Encoded: true, headers: { 'content-type': 'application/vnd.api+json' } }));
    expect(status).toBe(200);
    expect(body.body).toMatchObject({ name: 'Acme', email: 'a@acme.example' });
  });

  it('should refuse base64-encoded bytes that are not UTF-8 with 400 MALFORMED_UTF8', async () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"Acme '), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('","email":"a@acme.example"}')]);
    const { status, body } = await call(JSON.stringify({ body: bytes.toString('base64'), isBase64Encoded: true, headers: { 'content-type': 'application/json' } }));
    expect(status).toBe(400);
    expect(body.error?.code).toBe('MALFORMED_UTF8');
  });

  it('should refuse a text body carrying U+FFFD, what a lossy decoding makes of bytes that are not UTF-8', async () => {
    const { status, body } = await call(JSON.stringify({ body: '{"name":"Acme \ufffd","email":"a@acme.example"}', isBase64Encoded: false, headers: { 'content-type': 'application/json' } }));
    expect(status).toBe(400);
    expect(body.error?.code).toBe('MALFORMED_UTF8');
  });

  it('should refuse a usage past its bound and say which bound', async () => {
    const { status, body } = await call(JSON.stringify({ body: '{"name":"Acme","email":"a@acme.example","usage":{"storageGb":1e308,"users":9007199254740993}}', headers: { 'content-type': 'application/json' } }));
    expect(status).toBe(400);
    expect(body.error?.details).toEqual([
      { in: 'body', field: 'usage.storageGb', message: 'must be a number from 0 to 1000000000000 with at most 3 decimal places' },
      { in: 'body', field: 'usage.users', message: 'must be a whole number from 0 to 9007199254740991' },
    ]);
  });

  it('should say "required" for a missing field, and which type a wrong one takes', async () => {
    const { body } = await call(JSON.stringify({ body: '{"email":7,"plan":null}', headers: { 'content-type': 'application/json' } }));
    expect(body.error?.details).toEqual([
      { in: 'body', field: 'name', message: 'required' },
      { in: 'body', field: 'email', message: 'must be an email address' },
      { in: 'body', field: 'plan', message: 'must be one of free, starter, professional, enterprise' },
    ]);
  });
});
