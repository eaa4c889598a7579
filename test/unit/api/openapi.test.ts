import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ERROR_CODES,
  OPENAPI_JSON_PATH,
  ROUTE_SPECS,
  SECURITY_SCHEME,
  buildOpenApiDocument,
  renderOpenApiJson,
  type OpenApiDocument,
  type OperationObject,
  type ParameterObject,
  type Reference,
} from '../../../functions/api/openapi';
import { ROUTES, honoursIdempotencyKey, type RouteDefinition } from '../../../functions/api/routes';
import { REFUSAL_STATUS } from '../../../infra/local/local-jwt-authorizer';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const document: OpenApiDocument = buildOpenApiDocument();

function operationOf(route: RouteDefinition): OperationObject {
  const operation = document.paths[route.path]?.[route.method.toLowerCase() as 'get'];
  if (!operation) throw new Error(`No operation for ${route.method} ${route.path}`);
  return operation;
}

/** Resolve a local JSON pointer (`#/a/b~1c`) in the document; undefined when it points nowhere. */
function resolvePointer(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function parameterOf(parameter: ParameterObject | Reference): ParameterObject {
  return '$ref' in parameter ? (resolvePointer(parameter.$ref) as ParameterObject) : parameter;
}

/** Every `$ref` value anywhere in a JSON value, with where it was found. */
function collectRefs(node: unknown, at: string, found: { ref: string; at: string }[] = []): { ref: string; at: string }[] {
  if (Array.isArray(node)) node.forEach((item, i) => collectRefs(item, `${at}/${i}`, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') found.push({ ref: value, at });
      else collectRefs(value, `${at}/${key}`, found);
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return (readdirSync(join(REPO_ROOT, dir), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

describe('OpenAPI document', () => {
  describe('functions/api/openapi.json', () => {
    it('should equal buildOpenApiDocument() (run npm run openapi when this fails)', () => {
      let committed: string;
      try {
        committed = readFileSync(join(REPO_ROOT, OPENAPI_JSON_PATH), 'utf8');
      } catch {
        throw new Error(`${OPENAPI_JSON_PATH} is missing: run npm run openapi and commit it.`);
      }
      const expected = renderOpenApiJson(document);
      if (committed !== expected) {
        const committedLines = committed.split('\n');
        const expectedLines = expected.split('\n');
        const line = expectedLines.findIndex((text, i) => committedLines[i] !== text);
        throw new Error(
          `${OPENAPI_JSON_PATH} is stale (it does not match functions/api/openapi.ts): run npm run openapi and commit the result.\n` +
            `First difference at line ${line + 1}:\n  committed: ${committedLines[line] ?? '<end of file>'}\n  generated: ${expectedLines[line] ?? '<end of file>'}`,
        );
      }
    });

    it('should be 2-space JSON with a trailing newline', () => {
      const text = renderOpenApiJson(document);
      expect(text.endsWith('}\n')).toBe(true);
      expect(text.split('\n')[1]).toMatch(/^ {2}"openapi": /);
    });
  });

  describe('routes', () => {
    it.each(ROUTES.map((route) => [route.id, route] as const))('should describe %s with its method and path', (_id, route) => {
      const operation = operationOf(route);
      expect(operation.operationId).toBe(route.id);
      expect(operation.summary).toBe(route.summary);
    });

    it('should have no path or method that ROUTES lacks', () => {
      const declared = new Set(ROUTES.map((route) => `${route.method} ${route.path}`));
      const documented = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      );
      expect(documented.filter((key) => !declared.has(key))).toEqual([]);
      expect(documented).toHaveLength(ROUTES.length);
    });

    it('should have a ROUTE_SPECS entry for every route and none for routes that do not exist', () => {
      expect(Object.keys(ROUTE_SPECS).sort()).toEqual(ROUTES.map((route) => route.id).sort());
    });

    it('should throw, naming the route, when a route has no ROUTE_SPECS entry', async () => {
      await jest.isolateModulesAsync(async () => {
        jest.doMock('../../../functions/api/routes', () => {
          const actual = jest.requireActual<typeof import('../../../functions/api/routes')>('../../../functions/api/routes');
          const added: RouteDefinition = actual.defineRoute({
            id: 'DeleteTenant',
            method: 'DELETE',
            path: '/tenants/{tenantId}',
            entry: 'functions/tenants/handlers/delete-tenant.ts',
            access: 'operator',
            table: [{ actions: ['DeleteItem'], leadingKeys: ['TENANT#*'] }],
            summary: 'Delete a tenant.',
          });
          return { ...actual, ROUTES: [...actual.ROUTES, added] };
        });
        const { buildOpenApiDocument: build } = await import('../../../functions/api/openapi');
        expect(() => build()).toThrow(/route DeleteTenant \(DELETE \/tenants\/\{tenantId\}\) has no entry in ROUTE_SPECS/);
      });
    });

    it('should throw when an entry disagrees with its route (a POST without the idempotency errors)', async () => {
      await jest.isolateModulesAsync(async () => {
        jest.doMock('../../../functions/api/routes', () => {
          const actual = jest.requireActual<typeof import('../../../functions/api/routes')>('../../../functions/api/routes');
          return { ...actual, ROUTES: actual.ROUTES.map((route) => (route.id === 'CheckAccess' ? { ...route, method: 'POST' } : route)) };
        });
        const { buildOpenApiDocument: build } = await import('../../../functions/api/openapi');
        expect(() => build()).toThrow(/ROUTE_SPECS\.CheckAccess .* is a POST/);
      });
    });
  });

  describe('security', () => {
    it('should declare an HTTP bearer scheme for JWT access tokens and apply it globally', () => {
      expect(document.components.securitySchemes[SECURITY_SCHEME]).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
      expect(document.security).toEqual([{ [SECURITY_SCHEME]: [] }]);
    });

    /** The scopes a route accepts, any one of them, as the route table's access rule says. */
    const ACCEPTED_SCOPES: Readonly<Record<RouteDefinition['access'], string[]>> = {
      public: [],
      operator: ['tenant-lifecycle/operator'],
      'operator-or-own-tenant': ['tenant-lifecycle/operator', 'tenant-lifecycle/tenant'],
      'operator-or-owner-of-resource': ['tenant-lifecycle/operator', 'tenant-lifecycle/tenant'],
    };

    it.each(ROUTES.map((route) => [route.id, route] as const))('should give %s the security its route table entry says, each scope an alternative', (_id, route) => {
      const operation = operationOf(route);
      expect(operation.security).toEqual(ACCEPTED_SCOPES[route.access].map((scope) => ({ [SECURITY_SCHEME]: [scope] })));
      if (route.authenticated) {
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      } else {
        expect(Object.keys(operation.responses)).not.toEqual(expect.arrayContaining(['401']));
      }
    });

    it('should let a tenant-scoped token call exactly the routes that are not operator-only', () => {
      const tenantCallable = ROUTES.filter((route) => operationOf(route).security?.some((requirement) => requirement[SECURITY_SCHEME]?.includes('tenant-lifecycle/tenant'))).map((route) => route.id);
      expect(tenantCallable.sort()).toEqual(['AcquireQueryLease', 'CheckAccess', 'GetDeletionCertificate', 'GetExport', 'GetOperation', 'GetTenant', 'ListExports', 'ReleaseQueryLease', 'ReportUsage', 'StartExport', 'TenantHistory']);
    });

    it('should leave GET /health open', () => {
      expect(document.paths['/health']?.get?.security).toEqual([]);
    });
  });

  describe('headers', () => {
    const posts = ROUTES.filter(honoursIdempotencyKey);

    it('should have POST routes to check', () => {
      expect(posts.length).toBeGreaterThan(0);
    });

    it.each(posts.map((route) => [route.id, route] as const))('should declare Idempotency-Key and its errors on POST %s', (_id, route) => {
      const operation = operationOf(route);
      const headers = (operation.parameters ?? []).map(parameterOf).filter((parameter) => parameter.in === 'header');
      expect(headers.map((parameter) => parameter.name)).toContain('Idempotency-Key');
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '409', '422']));
    });

    it('should declare Stripe-Signature, and no Idempotency-Key, on the Stripe webhook (its event id is the key)', () => {
      const operation = operationOf(ROUTES.find((candidate) => candidate.id === 'StripeWebhook') as RouteDefinition);
      const headers = (operation.parameters ?? []).map(parameterOf).filter((parameter) => parameter.in === 'header');
      expect(headers.map((parameter) => parameter.name)).toEqual(['Stripe-Signature']);
      expect(operation.security).toEqual([]);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '400', '413', '500']));
      expect(Object.keys(operation.responses)).not.toContain('401');
    });

    it.each(['SuspendTenant', 'ResumeTenant'])('should declare If-Match on %s', (id) => {
      const route = ROUTES.find((candidate) => candidate.id === id) as RouteDefinition;
      const names = (operationOf(route).parameters ?? []).map(parameterOf).map((parameter) => parameter.name);
      expect(names).toContain('If-Match');
    });

    it.each(ROUTES.map((route) => [route.id, route] as const))('should document on %s the 429 it can answer: RATE_LIMITED with Retry-After when authenticated, the stage throttle always', (_id, route) => {
      const limited = operationOf(route).responses['429'] as { description: string; headers?: Record<string, { $ref: string }> };
      expect(limited.description).toContain('Throttled by API Gateway');
      if (route.authenticated) {
        expect(limited.description).toContain(`\`RATE_LIMITED\`: ${ERROR_CODES.RATE_LIMITED.description}`);
        expect(limited.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
      } else {
        expect(limited.description).not.toContain('RATE_LIMITED');
        expect(limited.headers).toBeUndefined();
      }
    });

    it('should document the Location header on CreateTenant and the ETag on GetTenant', () => {
      expect(document.paths['/tenants']?.post?.responses['201']?.headers).toHaveProperty('Location');
      expect(document.paths['/tenants/{tenantId}']?.get?.responses['200']?.headers).toHaveProperty('ETag');
    });
  });

  describe('structure', () => {
    it('should be OpenAPI 3.1.x with a title and version', () => {
      expect(document.openapi).toMatch(/^3\.1\.\d+$/);
      expect(document.info.title).toBe('Tenant lifecycle control plane API');
      expect(document.info.version).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('should resolve every $ref within the document', () => {
      const refs = collectRefs(document, '#');
      expect(refs.length).toBeGreaterThan(0);
      expect(refs.filter(({ ref }) => resolvePointer(ref) === undefined)).toEqual([]);
    });

    it('should give every operation a unique operationId, one 2xx response, and every path parameter', () => {
      const ids: string[] = [];
      for (const [path, item] of Object.entries(document.paths)) {
        const templateNames = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
        for (const method of HTTP_METHODS) {
          const operation = item[method as 'get'];
          if (!operation) continue;
          ids.push(operation.operationId);
          expect(Object.keys(operation.responses).filter((status) => /^2\d\d$/.test(status))).toHaveLength(1);
          const pathParameters = (operation.parameters ?? []).map(parameterOf).filter((parameter) => parameter.in === 'path');
          expect(pathParameters.map((parameter) => parameter.name).sort()).toEqual([...templateNames].sort());
          expect(pathParameters.every((parameter) => parameter.required)).toBe(true);
        }
      }
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('should document exactly the error statuses each route can return', () => {
      for (const route of ROUTES) {
        const spec = ROUTE_SPECS[route.id];
        // 429 and 431 are API Gateway's own answers, the same on every route (a route's own 429 codes join its 429, tested below).
        const expected = [...new Set(spec?.errors.map((code) => String(ERROR_CODES[code].status)))].filter((status) => status !== '429').sort();
        const documented = Object.keys(operationOf(route).responses).filter((status) => /^[45]\d\d$/.test(status) && status !== '429' && status !== '431');
        expect({ route: route.id, statuses: documented.sort() }).toEqual({ route: route.id, statuses: expected });
      }
    });

    it('should document the lease cap’s 429 with Retry-After on the acquire route, beside API Gateway’s throttling, and Retry-After on its 409', () => {
      const acquire = operationOf(ROUTES.find((route) => route.id === 'AcquireQueryLease') as RouteDefinition);
      const changePlan = operationOf(ROUTES.find((route) => route.id === 'ChangePlan') as RouteDefinition);

      expect(acquire.responses['429']?.description).toContain('`LEASE_LIMIT_REACHED`');
      expect(acquire.responses['429']?.description).toContain('Throttled by API Gateway');
      expect(acquire.responses['429']?.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
      expect(acquire.responses['409']?.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/RetryAfter' } });
      expect(resolvePointer('#/components/headers/RetryAfter')).toMatchObject({ schema: { type: 'string', pattern: '^[1-9][0-9]*$' } });
      // Another route's 429 is the caller's rate limit and API Gateway's throttling, not the lease cap.
      expect(changePlan.responses['429']?.description).toContain('`RATE_LIMITED`');
      expect(changePlan.responses['429']?.description).not.toContain('LEASE_LIMIT_REACHED');
      expect(changePlan.responses['409']?.headers).toBeUndefined();
    });

    it('should take force in the plan change’s body, and say why a usage report was not applied', () => {
      const schemas = document.components.schemas as Record<string, { properties: Record<string, unknown>; required?: string[] }>;
      expect(schemas.ChangePlanRequest?.properties.force).toMatchObject({ type: 'boolean', default: false });
      expect(schemas.ChangePlanRequest?.required).toEqual(['plan']);
      expect(schemas.UsageReport?.properties.notApplied).toMatchObject({ properties: { code: { enum: ['NEWER_REPORT_RECORDED', 'OPERATOR_CORRECTION_HOLDS'] } } });
      expect(schemas.AuditEntry?.properties.forced).toMatchObject({ const: true });
    });

    it('should list every error code in the Error schema', () => {
      const error = document.components.schemas.Error as { properties: { error: { properties: { code: { enum: string[] } } } } };
      expect(error.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_CODES));
    });

    it('should describe Tenant with allowedEvents and the pages with items and nextCursor', () => {
      const schemas = document.components.schemas as Record<string, { required?: string[] }>;
      expect(schemas.Tenant?.required).toEqual(expect.arrayContaining(['tenantId', 'state', 'version', 'allowedEvents']));
      expect(schemas.TenantPage?.required).toEqual(['items', 'nextCursor']);
      expect(schemas.AuditEntryPage?.required).toEqual(['items', 'nextCursor']);
      expect(schemas.AccessDecision?.required).toEqual(expect.arrayContaining(['access', 'reason', 'limits']));
    });

    it('should describe request bodies as callers send them, with defaulted fields optional', () => {
      const create = document.components.schemas.CreateTenantRequest as { required: string[]; additionalProperties: boolean };
      expect(create.required.sort()).toEqual(['email', 'name']);
      expect(create.additionalProperties).toBe(false);
    });
  });

  describe('error codes', () => {
    const files = [...sourceFiles('functions'), 'infra/local/http-adapter.ts', 'infra/local/local-jwt-authorizer.ts'].filter((file) => !file.endsWith('openapi.ts'));
    const sources = new Map(files.map((file) => [file, readFileSync(join(REPO_ROOT, file), 'utf8')]));

    it('should document every code the handlers, the authorizer and the local adapter produce, with its status', () => {
      const produced: { code: string; status: number; file: string }[] = [];
      for (const [file, text] of sources) {
        for (const match of text.matchAll(/(?:new ApiError|errorResult)\(\s*(\d{3}),\s*'([A-Z_]+)'/g)) {
          produced.push({ code: match[2] as string, status: Number(match[1]), file });
        }
      }
      for (const [code, status] of Object.entries(REFUSAL_STATUS)) produced.push({ code, status, file: 'infra/local/local-jwt-authorizer.ts' });
      expect(produced.length).toBeGreaterThan(10);
      const wrong = produced.filter(({ code, status }) => ERROR_CODES[code as keyof typeof ERROR_CODES]?.status !== status);
      expect(wrong).toEqual([]);
    });

    it("should list every code in README's error table, under its status", () => {
      const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
      const table = readme.slice(readme.indexOf('| status | codes |'));
      const rows = table.slice(0, table.indexOf('\n\n')).split('\n');
      const missing = Object.entries(ERROR_CODES)
        .filter(([code, { status }]) => !rows.some((row) => row.includes(`\`${code}\``) && row.split('|')[1]?.includes(String(status))))
        .map(([code, { status }]) => `${status} ${code}`);
      expect(missing).toEqual([]);
    });

    it('should document no code that nothing produces', () => {
      const all = [...sources.values()].join('\n');
      expect(Object.keys(ERROR_CODES).filter((code) => !all.includes(`'${code}'`))).toEqual([]);
    });
  });
});
