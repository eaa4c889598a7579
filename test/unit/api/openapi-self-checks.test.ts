/**
 * The OpenAPI builder's self-checks: a route table entry that the document could not describe truthfully
 * (it disagrees with the route, with the conventions `apiRoute` enforces, or names a schema the document does
 * not hold) must stop `npm run openapi` and the unit suite with a message naming the route and what to fix,
 * never produce a document that lies. Each case breaks one thing in an otherwise valid table.
 */
import * as z from 'zod';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS, ROUTE_SPECS, buildOpenApiDocument, renderOpenApiJson, type ErrorCode, type RouteSpec } from '../../../functions/api/openapi';
import { ROUTES, defineRoute, type RouteAccessLevel, type RouteDefinition } from '../../../functions/api/routes';

type Specs = Record<string, RouteSpec>;

function spec(id: string): RouteSpec {
  const found = ROUTE_SPECS[id];
  if (!found) throw new Error(`no ROUTE_SPECS.${id}`);
  return found;
}

/** The valid table with one entry replaced. */
function withSpec(id: string, change: (current: RouteSpec) => RouteSpec): Specs {
  return { ...ROUTE_SPECS, [id]: change(spec(id)) };
}

/** The valid route table with one route replaced. */
function withRoute(id: string, change: (current: RouteDefinition) => RouteDefinition): RouteDefinition[] {
  return ROUTES.map((route) => (route.id === id ? change(route) : route));
}

/** The valid route table with one route's access rule replaced. */
function withAccess(id: string, access: RouteAccessLevel): RouteDefinition[] {
  return withRoute(id, (route) => defineRoute({ ...route, access }));
}

const without = (errors: readonly ErrorCode[], ...drop: ErrorCode[]) => errors.filter((code) => !drop.includes(code));

describe('buildOpenApiDocument self-checks', () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      'an entry for a route that no longer exists',
      () => buildOpenApiDocument(ROUTES, { ...ROUTE_SPECS, DeleteTenant: spec('SuspendTenant') }),
      /ROUTE_SPECS has entries for routes not in ROUTES: DeleteTenant\. Remove them/,
    ],
    [
      'the same method and path twice',
      () => buildOpenApiDocument([...ROUTES, { ...(ROUTES[3] as RouteDefinition), id: 'GetTenantAgain' }], { ...ROUTE_SPECS, GetTenantAgain: spec('GetTenant') }),
      /GET \/tenants\/\{tenantId\} appears twice in ROUTES/,
    ],
    [
      'an error code listed twice',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, errors: [...s.errors, 'TENANT_NOT_FOUND'] }))),
      /ROUTE_SPECS\.GetTenant \(GET \/tenants\/\{tenantId\}\) lists an error code twice/,
    ],
    [
      "a route made 'public' in ROUTES while its entry still lists the token errors",
      () => buildOpenApiDocument(withAccess('GetTenant', 'public')),
      /ROUTE_SPECS\.GetTenant \(GET \/tenants\/\{tenantId\}\) is public: it cannot answer 401 or 403/,
    ],
    [
      'a public route made authenticated in ROUTES without the token errors in its entry',
      () => buildOpenApiDocument(withAccess('Health', 'operator')),
      /ROUTE_SPECS\.Health \(GET \/health\) is authenticated: its errors must include TOKEN_MISSING/,
    ],
    [
      'an authenticated route without the token errors',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, errors: without(s.errors, 'FORBIDDEN') }))),
      /ROUTE_SPECS\.GetTenant .* is authenticated: its errors must include TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, UNAUTHENTICATED, INSUFFICIENT_SCOPE, FORBIDDEN/,
    ],
    [
      'a public route that claims to answer 401',
      () => buildOpenApiDocument(ROUTES, withSpec('Health', (s) => ({ ...s, errors: ['TOKEN_MISSING'] }))),
      /ROUTE_SPECS\.Health \(GET \/health\) is public: it cannot answer 401 or 403/,
    ],
    [
      'RATE_LIMITED listed in an entry (every authenticated route answers it: the builder adds its 429)',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, errors: [...s.errors, 'RATE_LIMITED'] }))),
      /ROUTE_SPECS\.GetTenant .* lists RATE_LIMITED: every authenticated route answers it/,
    ],
    [
      'Idempotency-Key errors on a route that is not a POST',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, errors: [...s.errors, 'IDEMPOTENCY_KEY_REUSED'] }))),
      /ROUTE_SPECS\.GetTenant .* is not a POST: Idempotency-Key applies to POST routes only/,
    ],
    [
      'a JSON body without the body errors',
      () => buildOpenApiDocument(ROUTES, withSpec('CreateTenant', (s) => ({ ...s, errors: without(s.errors, 'MALFORMED_JSON') }))),
      /ROUTE_SPECS\.CreateTenant .* takes a JSON body: its errors must include VALIDATION_FAILED, MALFORMED_JSON/,
    ],
    [
      'no body without UNEXPECTED_BODY',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, errors: without(s.errors, 'UNEXPECTED_BODY') }))),
      /ROUTE_SPECS\.GetTenant .* takes no body: its errors must include VALIDATION_FAILED, UNEXPECTED_BODY, PAYLOAD_TOO_LARGE/,
    ],
    [
      'If-Match without its errors',
      () => buildOpenApiDocument(ROUTES, withSpec('SuspendTenant', (s) => ({ ...s, errors: without(s.errors, 'VERSION_CONFLICT') }))),
      /ROUTE_SPECS\.SuspendTenant .* honours If-Match: its errors must include INVALID_IF_MATCH, VERSION_CONFLICT/,
    ],
    [
      'path parameters that do not match the path template',
      () => buildOpenApiDocument(withRoute('GetTenant', (r) => ({ ...r, path: '/tenants/{id}' }))),
      /ROUTE_SPECS\.GetTenant \(GET \/tenants\/\{id\}\) has path parameters \[tenantId\] but its path template has \[id\]/,
    ],
    [
      "'operator-or-own-tenant' on a path without tenantId",
      () => buildOpenApiDocument(withAccess('GetOperation', 'operator-or-own-tenant')),
      /ROUTE_SPECS\.GetOperation .* is 'operator-or-own-tenant' but has no tenantId path parameter/,
    ],
    [
      "'operator-or-owner-of-resource' on a path naming the tenant",
      () => buildOpenApiDocument(withAccess('GetTenant', 'operator-or-owner-of-resource')),
      /ROUTE_SPECS\.GetTenant .* names its tenant in the path: use 'operator-or-own-tenant'/,
    ],
    [
      'a success status outside 2xx',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, success: { ...s.success, status: 302 } }))),
      /ROUTE_SPECS\.GetTenant .* has success status 302/,
    ],
    [
      'a 204 with a response schema',
      () => buildOpenApiDocument(ROUTES, withSpec('ReleaseQueryLease', (s) => ({ ...s, success: { ...s.success, schema: RESPONSE_SCHEMAS.QueryLease } }))),
      /ROUTE_SPECS\.ReleaseQueryLease .* must have a response schema exactly when its success status is not 204/,
    ],
    [
      'a 200 without a response schema',
      () => buildOpenApiDocument(ROUTES, withSpec('GetTenant', (s) => ({ ...s, success: { status: 200, description: 'The tenant.' } }))),
      /ROUTE_SPECS\.GetTenant .* must have a response schema exactly when its success status is not 204/,
    ],
    [
      'a response schema that is not registered',
      () => buildOpenApiDocument(ROUTES, withSpec('Health', (s) => ({ ...s, success: { ...s.success, schema: z.object({ status: z.literal('ok') }) } }))),
      /the response schema is not registered in RESPONSE_SCHEMAS/,
    ],
    [
      'a request body schema that is not registered',
      () => buildOpenApiDocument(ROUTES, withSpec('CreateTenant', (s) => ({ ...s, body: z.object({ name: z.string() }) }))),
      /the request body schema is not registered in REQUEST_SCHEMAS/,
    ],
    [
      'a schema name used for both a request and a response',
      () => buildOpenApiDocument(ROUTES, ROUTE_SPECS, { request: REQUEST_SCHEMAS, response: { ...RESPONSE_SCHEMAS, ChangePlanRequest: z.object({ x: z.string() }) } }),
      /schema names used for both requests and responses: ChangePlanRequest/,
    ],
  ])('should refuse %s, naming the route and what to fix', (_case, build, message) => {
    expect(build).toThrow(message);
  });

  it('should accept the valid table unchanged (the cases above break exactly one thing each)', () => {
    expect(() => buildOpenApiDocument(ROUTES, ROUTE_SPECS)).not.toThrow();
  });

  it('should render the committed document by default (what npm run openapi writes)', () => {
    expect(renderOpenApiJson()).toBe(renderOpenApiJson(buildOpenApiDocument()));
  });

  describe('what it documents for a table it accepts', () => {
    // A public route that can answer 400: API Gateway's own 401/403 notes do not apply to it.
    const probe = defineRoute({ id: 'Probe', method: 'GET', path: '/probe', entry: 'functions/api/health.ts', access: 'public', summary: 'Probe.' });
    const probeSpec: RouteSpec = {
      query: z.strictObject({ verbose: z.enum(['true', 'false']).optional().meta({ description: 'More detail.' }), depth: z.string().optional() }),
      success: { status: 200, description: 'Up.', schema: RESPONSE_SCHEMAS.Health },
      errors: ['VALIDATION_FAILED'],
    };
    const document = buildOpenApiDocument([...ROUTES, probe], { ...ROUTE_SPECS, Probe: probeSpec });
    const operation = document.paths['/probe']?.get;

    it('should document optional query parameters as not required, keeping a description the schema gives', () => {
      expect(operation?.parameters).toEqual([
        { name: 'verbose', in: 'query', required: false, description: 'More detail.', schema: { type: 'string', enum: ['true', 'false'] } },
        { name: 'depth', in: 'query', required: false, schema: { type: 'string' } },
      ]);
    });

    it("should describe a public route's 400 with the API's Error schema only", () => {
      expect(operation?.responses['400']?.content).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/Error' } } });
      expect(operation?.responses['400']?.description).not.toMatch(/API Gateway/);
    });
  });
});
