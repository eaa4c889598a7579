/**
 * The HTTPS API's route table: the one list the CDK stack (one Lambda per route) and the local HTTP adapter
 * both read, so the two places serve exactly the same routes with the same handlers.
 */
import { scopesForAccess, type ClaimMapping } from '../auth/jwt-claims';
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import type { RouteAccess } from '../shared/http/principal';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a route's Lambda may do to the lifecycle table; the stack turns this into least-privilege grants. */
export type TableAccess = 'none' | 'read' | 'write';

/**
 * Who may call a route: one of the access rules `authorizeRoute` enforces (functions/shared/http/principal.ts), or
 * 'public': no token at all (no authorizer on API Gateway, none in the local adapter).
 */
export type RouteAccessLevel = RouteAccess | 'public';

/** A route as the table declares it. */
export interface RouteSpec {
  /** Stable id: the Lambda's construct id and the handler's metric dimension. */
  readonly id: string;
  readonly method: HttpMethod;
  /** API Gateway path template, `{name}` for a path parameter. */
  readonly path: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /**
   * Who may call it: the one statement of a route's access rule. API Gateway's JWT authorizer (the scopes of
   * `routeScopes`), the local adapter, `apiRoute` (`authorizeRoute`) and the OpenAPI document all read it here.
   * 'public': the health check (no table access) or a route whose handler verifies its caller itself (`verifiedBy`).
   */
  readonly access: RouteAccessLevel;
  /**
   * How a public route's handler proves who sent the request, instead of a bearer token: 'stripe-signature', the
   * Stripe-Signature header over the exact body, checked before anything is read or changed. Only such a route may
   * be public and reach the table; it takes no Idempotency-Key (it deduplicates on what it verified).
   */
  readonly verifiedBy?: 'stripe-signature';
  readonly tableAccess: TableAccess;
  readonly summary: string;
  /** The lifecycle events the route requests: a tenant's `allowedEvents` are those of these it would accept now. */
  readonly events?: readonly LifecycleEvent[];
}

/** A route of the table, with what follows from its access rule. */
export interface RouteDefinition extends RouteSpec {
  /** Whether a token is needed (derived from `access`: every route but a 'public' one). */
  readonly authenticated: boolean;
}

/** A route of the table from its declaration. */
export function defineRoute(spec: RouteSpec): RouteDefinition {
  return { ...spec, authenticated: spec.access !== 'public' };
}

export const ROUTES: readonly RouteDefinition[] = [
  defineRoute({ id: 'Health', method: 'GET', path: '/health', entry: 'functions/api/health.ts', access: 'public', tableAccess: 'none', summary: 'Liveness check.' }),
  defineRoute({ id: 'CreateTenant', method: 'POST', path: '/tenants', entry: 'functions/tenants/handlers/create-tenant.ts', access: 'operator', tableAccess: 'write', summary: 'Create an active tenant on a plan.' }),
  defineRoute({ id: 'ListTenants', method: 'GET', path: '/tenants', entry: 'functions/tenants/handlers/list-tenants.ts', access: 'operator', tableAccess: 'read', summary: 'List tenants, by state, paginated.' }),
  defineRoute({ id: 'GetTenant', method: 'GET', path: '/tenants/{tenantId}', entry: 'functions/tenants/handlers/get-tenant.ts', access: 'operator-or-own-tenant', tableAccess: 'read', summary: 'Read one tenant.' }),
  defineRoute({ id: 'TenantHistory', method: 'GET', path: '/tenants/{tenantId}/history', entry: 'functions/tenants/handlers/tenant-history.ts', access: 'operator-or-own-tenant', tableAccess: 'read', summary: "A tenant's audit trail, newest first." }),
  defineRoute({ id: 'SuspendTenant', method: 'POST', path: '/tenants/{tenantId}/suspend', entry: 'functions/tenants/handlers/suspend-tenant.ts', access: 'operator', tableAccess: 'write', summary: 'Suspend an active tenant.', events: ['suspend'] }),
  defineRoute({ id: 'ResumeTenant', method: 'POST', path: '/tenants/{tenantId}/resume', entry: 'functions/tenants/handlers/resume-tenant.ts', access: 'operator', tableAccess: 'write', summary: 'Resume a suspended tenant.', events: ['resume'] }),
  defineRoute({ id: 'CheckAccess', method: 'GET', path: '/tenants/{tenantId}/access', entry: 'functions/tenants/handlers/check-access.ts', access: 'operator-or-own-tenant', tableAccess: 'read', summary: 'Application-plane access check: read_write, read_only or blocked.' }),
  defineRoute({ id: 'ReportUsage', method: 'PUT', path: '/tenants/{tenantId}/usage', entry: 'functions/tenants/handlers/report-usage.ts', access: 'operator-or-own-tenant', tableAccess: 'write', summary: "Application plane: report the tenant's current usage (plan changes check it)." }),
  defineRoute({ id: 'AcquireQueryLease', method: 'POST', path: '/tenants/{tenantId}/leases', entry: 'functions/leases/handlers/acquire-lease.ts', access: 'operator-or-own-tenant', tableAccess: 'write', summary: 'Take a query lease (application plane); refused during a read-only window.' }),
  defineRoute({ id: 'ReleaseQueryLease', method: 'DELETE', path: '/tenants/{tenantId}/leases/{leaseId}', entry: 'functions/leases/handlers/release-lease.ts', access: 'operator-or-own-tenant', tableAccess: 'write', summary: 'Release a query lease; idempotent.' }),
  defineRoute({ id: 'ChangePlan', method: 'POST', path: '/tenants/{tenantId}/plan', entry: 'functions/plan-change/handlers/change-plan.ts', access: 'operator', tableAccess: 'write', summary: 'Upgrade or downgrade (a plan-change workflow), or preview it with dryRun.', events: ['initiate_upgrade', 'initiate_downgrade'] }),
  defineRoute({ id: 'CancelScheduledPlanChange', method: 'DELETE', path: '/tenants/{tenantId}/scheduled-plan-change', entry: 'functions/plan-change/handlers/cancel-scheduled-plan-change.ts', access: 'operator', tableAccess: 'write', summary: 'Cancel the downgrade scheduled for the end of the billing period.' }),
  defineRoute({ id: 'InitiateDeletion', method: 'POST', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/initiate-deletion.ts', access: 'operator', tableAccess: 'write', summary: 'Soft-delete the tenant: access blocked, billing stopped, data retained until the hard delete at the deadline (30–90 days).', events: ['initiate_deletion'] }),
  defineRoute({ id: 'CancelDeletion', method: 'DELETE', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/cancel-deletion.ts', access: 'operator', tableAccess: 'write', summary: 'Cancel a soft delete within retention: back to active, billing restored.', events: ['cancel_deletion'] }),
  defineRoute({ id: 'PlaceLegalHold', method: 'PUT', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/place-legal-hold.ts', access: 'operator', tableAccess: 'write', summary: 'Place a legal hold: the hard delete does not run while it is set.' }),
  defineRoute({ id: 'ReleaseLegalHold', method: 'DELETE', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/release-legal-hold.ts', access: 'operator', tableAccess: 'write', summary: 'Release a legal hold; a soft-deleted tenant is then hard-deleted at the later of its deadline and now.' }),
  defineRoute({ id: 'ReactivateTenant', method: 'POST', path: '/tenants/{tenantId}/reactivate', entry: 'functions/reactivation/handlers/reactivate-tenant.ts', access: 'operator', tableAccess: 'write', summary: 'Reactivate a suspended, soft-deleted or deleted tenant (win-back, a workflow): with its data or as a fresh start; 202 with the operation.', events: ['resume', 'cancel_deletion', 'reactivate_deleted'] }),
  defineRoute({ id: 'StartExport', method: 'POST', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/start-export.ts', access: 'operator-or-own-tenant', tableAccess: 'write', summary: "Start a GDPR export of the tenant's data (a workflow); 202 with its id.", events: ['initiate_export'] }),
  defineRoute({ id: 'ListExports', method: 'GET', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/list-exports.ts', access: 'operator-or-own-tenant', tableAccess: 'read', summary: "The tenant's exports, newest first, paginated." }),
  defineRoute({ id: 'GetExport', method: 'GET', path: '/exports/{exportId}', entry: 'functions/export/handlers/get-export.ts', access: 'operator-or-owner-of-resource', tableAccess: 'read', summary: 'An export: status, progress per source, manifest, presigned download URLs once done.' }),
  defineRoute({ id: 'GetDeletionCertificate', method: 'GET', path: '/tenants/{tenantId}/deletion-certificate', entry: 'functions/deletion/handlers/get-deletion-certificate.ts', access: 'operator-or-own-tenant', tableAccess: 'read', summary: "A deleted tenant's deletion certificate: the proof of its erasure." }),
  defineRoute({ id: 'ListComplianceViolations', method: 'GET', path: '/compliance/violations', entry: 'functions/deletion/handlers/list-violations.ts', access: 'operator', tableAccess: 'read', summary: 'Missed deletion deadlines of every tenant (compliance violations), by time detected, paginated.' }),
  defineRoute({ id: 'StripeWebhook', method: 'POST', path: '/webhooks/stripe', entry: 'functions/dunning/handlers/stripe-webhook.ts', access: 'public', verifiedBy: 'stripe-signature', tableAccess: 'write', summary: "Stripe's webhook deliveries (no token: the Stripe-Signature header is verified), handed to the Stripe event processor." }),
  defineRoute({ id: 'ReconcileBilling', method: 'POST', path: '/billing/reconcile', entry: 'functions/dunning/handlers/reconcile.ts', access: 'operator', tableAccess: 'write', summary: "Reconcile every linked subscription's status with its tenant (the dunning ladder), now; answers what changed." }),
  defineRoute({ id: 'GetOperation', method: 'GET', path: '/operations/{operationId}', entry: 'functions/operations/handlers/get-operation.ts', access: 'operator-or-owner-of-resource', tableAccess: 'read', summary: 'Status of a workflow operation: steps done, error if any.' }),
];

/**
 * Answers every request no route matches ($default on API Gateway): 404 or 405 in the API's error shape. Behind
 * the authorizer like the routes it stands for, so an anonymous caller learns nothing about which paths and
 * methods exist (a 405 lists them); any principal may then ask (its answer names no tenant's data).
 */
export const FALLBACK_ROUTE: RouteDefinition = defineRoute({
  id: 'NotFound',
  method: 'GET',
  path: '$default',
  entry: 'functions/api/not-found.ts',
  access: 'operator-or-owner-of-resource',
  tableAccess: 'none',
  summary: 'Unknown route.',
});

/**
 * The scopes a token needs for `route`, any one of them (API Gateway's JWT authorizer lets a request through when
 * its token has at least one of the route's `authorizationScopes`: API Gateway developer guide, "Control access
 * to HTTP APIs with JWT authorizers"): an operator route the operator scope; any other authenticated route the
 * operator or the tenant scope (the handler then checks the tenant, `authorizeRoute`); a public route none.
 */
export function routeScopes(route: Pick<RouteSpec, 'access'>, mapping: Pick<ClaimMapping, 'operatorScope' | 'tenantScope'>): string[] {
  return route.access === 'public' ? [] : scopesForAccess(route.access, mapping);
}

/**
 * The access rule `apiRoute` enforces for route `routeId`: the route table's. `given` is for routes outside the
 * table only (the local stack's own routes, test probes); throws when a table route restates its access, when a
 * route outside the table gives none, or when the table's route is public (`apiRoute` authenticates every call).
 */
export function routeAccess(routeId: string, given?: RouteAccess): RouteAccess {
  const route = ROUTES.find((candidate) => candidate.id === routeId);
  if (!route) {
    if (given === undefined) throw new Error(`apiRoute: route ${routeId} is not in ROUTES (functions/api/routes.ts); give its access.`);
    return given;
  }
  if (given !== undefined) throw new Error(`apiRoute: the access of route ${routeId} is in ROUTES (functions/api/routes.ts); remove it from the handler.`);
  if (route.access === 'public') throw new Error(`apiRoute: route ${routeId} is public in ROUTES; a public route does not go through apiRoute's authentication.`);
  return route.access;
}

/** Whether the Idempotency-Key middleware applies: every POST but a signed webhook's (its event id is the key). */
export function honoursIdempotencyKey(route: RouteDefinition): boolean {
  return route.method === 'POST' && route.verifiedBy === undefined;
}

export interface RouteMatch {
  readonly route: RouteDefinition;
  readonly pathParameters: Record<string, string>;
}

function compile(path: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
      names.push(parameter[1] as string);
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}/?$`), names };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes reach the handler as typed, and fail its validation there
  }
}

const COMPILED = ROUTES.map((route) => ({ route, ...compile(route.path) }));

/** The route for a method and path, or what matched the path under other methods (for 405). */
export function matchRoute(method: string, path: string): { match?: RouteMatch; allowedMethods: HttpMethod[] } {
  const allowedMethods: HttpMethod[] = [];
  for (const { route, regex, names } of COMPILED) {
    const found = regex.exec(path);
    if (!found) continue;
    if (route.method !== method.toUpperCase()) {
      allowedMethods.push(route.method);
      continue;
    }
    const pathParameters: Record<string, string> = {};
    names.forEach((name, i) => {
      pathParameters[name] = decodeSegment(found[i + 1] as string);
    });
    return { match: { route, pathParameters }, allowedMethods: [route.method] };
  }
  return { allowedMethods };
}
