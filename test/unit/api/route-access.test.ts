/**
 * A route's access rule has one home, the route table: `apiRoute` enforces the table's rule (a handler cannot
 * restate it, or contradict it), and `routeScopes` derives from it the scopes API Gateway's JWT authorizer and
 * the local adapter ask of a token.
 */
import type { Context } from 'aws-lambda';
import { FALLBACK_ROUTE, ROUTES, routeAccess, routeScopes } from '../../../functions/api/routes';
import { apiRoute } from '../../../functions/shared/http/api-handler';
import { jsonResponse } from '../../../functions/shared/http/response';
import { apiEvent } from '../../support/events';

const MAPPING = { operatorScope: 'acme/ops', tenantScope: 'acme/app' };

async function status(handler: ReturnType<typeof apiRoute>, event: ReturnType<typeof apiEvent>): Promise<{ status: number; code?: string }> {
  const response = await handler(event, {} as Context);
  const body = JSON.parse(response.body as string) as { error?: { code: string } };
  return { status: response.statusCode, ...(body.error ? { code: body.error.code } : {}) };
}

describe('Function: routeScopes', () => {
  it.each([
    ['public', []],
    ['operator', ['acme/ops']],
    ['operator-or-own-tenant', ['acme/ops', 'acme/app']],
    ['operator-or-owner-of-resource', ['acme/ops', 'acme/app']],
  ] as const)("should ask a route with access '%s' for the scopes %j (any one of them)", (access, scopes) => {
    expect(routeScopes({ access }, MAPPING)).toEqual(scopes);
  });

  it('should leave only GET /health and the Stripe webhook without scopes, and ask any scope of the $default fallback', () => {
    expect(ROUTES.filter((route) => routeScopes(route, MAPPING).length === 0).map((route) => `${route.method} ${route.path}`)).toEqual(['GET /health', 'POST /webhooks/stripe']);
    expect(routeScopes(FALLBACK_ROUTE, MAPPING)).toEqual(['acme/ops', 'acme/app']);
  });

  it('should derive `authenticated` from the access rule for every route', () => {
    for (const route of [...ROUTES, FALLBACK_ROUTE]) expect([route.id, route.authenticated]).toEqual([route.id, route.access !== 'public']);
  });
});

describe('Function: routeAccess', () => {
  it("should answer the route table's rule for a route of the table", () => {
    expect(routeAccess('ListTenants')).toBe('operator');
    expect(routeAccess('GetTenant')).toBe('operator-or-own-tenant');
  });

  it('should refuse a table route whose handler restates its access, naming where it lives', () => {
    expect(() => routeAccess('ListTenants', 'operator')).toThrow('apiRoute: the access of route ListTenants is in ROUTES (functions/api/routes.ts); remove it from the handler.');
  });

  it('should refuse a route outside the table without an access rule, and a public table route', () => {
    expect(() => routeAccess('Probe')).toThrow('apiRoute: route Probe is not in ROUTES (functions/api/routes.ts); give its access.');
    expect(routeAccess('Probe', 'operator-or-owner-of-resource')).toBe('operator-or-owner-of-resource');
    expect(() => routeAccess('Health')).toThrow(/route Health is public in ROUTES/);
  });
});

describe('Function: apiRoute (access from the route table)', () => {
  const listTenants = apiRoute({ routeId: 'ListTenants' }, async () => jsonResponse(200, { ok: true }));

  it("should refuse a tenant-scoped caller on a route the table makes operator-only, with no access given by the handler", async () => {
    const event = apiEvent({ method: 'GET', route: '/tenants', principal: { subject: 'app-client', role: 'tenant', tenantId: 'acme' } });
    expect(await status(listTenants, event)).toEqual({ status: 403, code: 'FORBIDDEN' });
  });

  it('should let an operator through the same route', async () => {
    expect(await status(listTenants, apiEvent({ method: 'GET', route: '/tenants' }))).toEqual({ status: 200 });
  });

  it('should refuse, when the handler is built, a handler that restates a table route access', () => {
    expect(() => apiRoute({ routeId: 'GetTenant', access: 'operator' }, async () => jsonResponse(200, {}))).toThrow(/access of route GetTenant is in ROUTES/);
  });
});
