/**
 * The HTTPS API's route table: the one list the CDK stack (one Lambda per route) and the local HTTP adapter
 * both read, so the two places serve exactly the same routes with the same handlers.
 */
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a route's Lambda may do to the lifecycle table; the stack turns this into least-privilege grants. */
export type TableAccess = 'none' | 'read' | 'write';

export interface RouteDefinition {
  /** Stable id: the Lambda's construct id and the handler's metric dimension. */
  readonly id: string;
  readonly method: HttpMethod;
  /** API Gateway path template, `{name}` for a path parameter. */
  readonly path: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /**
   * true: the token authorizer runs in front of the route (API Gateway, and the local adapter). false: a public
   * route, either the health check (no table access) or one whose handler verifies its caller itself
   * (`verifiedBy`).
   */
  readonly authenticated: boolean;
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

export const ROUTES: readonly RouteDefinition[] = [
  { id: 'Health', method: 'GET', path: '/health', entry: 'functions/api/health.ts', authenticated: false, tableAccess: 'none', summary: 'Liveness check.' },
  { id: 'CreateTenant', method: 'POST', path: '/tenants', entry: 'functions/tenants/handlers/create-tenant.ts', authenticated: true, tableAccess: 'write', summary: 'Create an active tenant on a plan.' },
  { id: 'ListTenants', method: 'GET', path: '/tenants', entry: 'functions/tenants/handlers/list-tenants.ts', authenticated: true, tableAccess: 'read', summary: 'List tenants, by state, paginated.' },
  { id: 'GetTenant', method: 'GET', path: '/tenants/{tenantId}', entry: 'functions/tenants/handlers/get-tenant.ts', authenticated: true, tableAccess: 'read', summary: 'Read one tenant.' },
  { id: 'TenantHistory', method: 'GET', path: '/tenants/{tenantId}/history', entry: 'functions/tenants/handlers/tenant-history.ts', authenticated: true, tableAccess: 'read', summary: "A tenant's audit trail, newest first." },
  { id: 'SuspendTenant', method: 'POST', path: '/tenants/{tenantId}/suspend', entry: 'functions/tenants/handlers/suspend-tenant.ts', authenticated: true, tableAccess: 'write', summary: 'Suspend an active tenant.', events: ['suspend'] },
  { id: 'ResumeTenant', method: 'POST', path: '/tenants/{tenantId}/resume', entry: 'functions/tenants/handlers/resume-tenant.ts', authenticated: true, tableAccess: 'write', summary: 'Resume a suspended tenant.', events: ['resume'] },
  { id: 'CheckAccess', method: 'GET', path: '/tenants/{tenantId}/access', entry: 'functions/tenants/handlers/check-access.ts', authenticated: true, tableAccess: 'read', summary: 'Application-plane access check: read_write, read_only or blocked.' },
  { id: 'ReportUsage', method: 'PUT', path: '/tenants/{tenantId}/usage', entry: 'functions/tenants/handlers/report-usage.ts', authenticated: true, tableAccess: 'write', summary: "Application plane: report the tenant's current usage (plan changes check it)." },
  { id: 'AcquireQueryLease', method: 'POST', path: '/tenants/{tenantId}/leases', entry: 'functions/leases/handlers/acquire-lease.ts', authenticated: true, tableAccess: 'write', summary: 'Take a query lease (application plane); refused during a read-only window.' },
  { id: 'ReleaseQueryLease', method: 'DELETE', path: '/tenants/{tenantId}/leases/{leaseId}', entry: 'functions/leases/handlers/release-lease.ts', authenticated: true, tableAccess: 'write', summary: 'Release a query lease; idempotent.' },
  { id: 'ChangePlan', method: 'POST', path: '/tenants/{tenantId}/plan', entry: 'functions/plan-change/handlers/change-plan.ts', authenticated: true, tableAccess: 'write', summary: 'Upgrade or downgrade (a plan-change workflow), or preview it with dryRun.', events: ['initiate_upgrade', 'initiate_downgrade'] },
  { id: 'CancelScheduledPlanChange', method: 'DELETE', path: '/tenants/{tenantId}/scheduled-plan-change', entry: 'functions/plan-change/handlers/cancel-scheduled-plan-change.ts', authenticated: true, tableAccess: 'write', summary: 'Cancel the downgrade scheduled for the end of the billing period.' },
  { id: 'InitiateDeletion', method: 'POST', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/initiate-deletion.ts', authenticated: true, tableAccess: 'write', summary: 'Soft-delete the tenant: access blocked, billing stopped, data retained until the hard delete at the deadline (30–90 days).', events: ['initiate_deletion'] },
  { id: 'CancelDeletion', method: 'DELETE', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/cancel-deletion.ts', authenticated: true, tableAccess: 'write', summary: 'Cancel a soft delete within retention: back to active, billing restored.', events: ['cancel_deletion'] },
  { id: 'PlaceLegalHold', method: 'PUT', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/place-legal-hold.ts', authenticated: true, tableAccess: 'write', summary: 'Place a legal hold: the hard delete does not run while it is set.' },
  { id: 'ReleaseLegalHold', method: 'DELETE', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/release-legal-hold.ts', authenticated: true, tableAccess: 'write', summary: 'Release a legal hold; a soft-deleted tenant is then hard-deleted at the later of its deadline and now.' },
  { id: 'ReactivateTenant', method: 'POST', path: '/tenants/{tenantId}/reactivate', entry: 'functions/reactivation/handlers/reactivate-tenant.ts', authenticated: true, tableAccess: 'write', summary: 'Reactivate a suspended, soft-deleted or deleted tenant (win-back, a workflow): with its data or as a fresh start; 202 with the operation.', events: ['resume', 'cancel_deletion', 'reactivate_deleted'] },
  { id: 'StartExport', method: 'POST', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/start-export.ts', authenticated: true, tableAccess: 'write', summary: "Start a GDPR export of the tenant's data (a workflow); 202 with its id.", events: ['initiate_export'] },
  { id: 'ListExports', method: 'GET', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/list-exports.ts', authenticated: true, tableAccess: 'read', summary: "The tenant's exports, newest first, paginated." },
  { id: 'GetExport', method: 'GET', path: '/exports/{exportId}', entry: 'functions/export/handlers/get-export.ts', authenticated: true, tableAccess: 'read', summary: 'An export: status, progress per source, manifest, presigned download URLs once done.' },
  { id: 'GetDeletionCertificate', method: 'GET', path: '/tenants/{tenantId}/deletion-certificate', entry: 'functions/deletion/handlers/get-deletion-certificate.ts', authenticated: true, tableAccess: 'read', summary: "A deleted tenant's deletion certificate: the proof of its erasure." },
  { id: 'ListComplianceViolations', method: 'GET', path: '/compliance/violations', entry: 'functions/deletion/handlers/list-violations.ts', authenticated: true, tableAccess: 'read', summary: 'Missed deletion deadlines of every tenant (compliance violations), by time detected, paginated.' },
  { id: 'StripeWebhook', method: 'POST', path: '/webhooks/stripe', entry: 'functions/dunning/handlers/stripe-webhook.ts', authenticated: false, verifiedBy: 'stripe-signature', tableAccess: 'write', summary: "Stripe's webhook deliveries (no token: the Stripe-Signature header is verified), handed to the Stripe event processor." },
  { id: 'ReconcileBilling', method: 'POST', path: '/billing/reconcile', entry: 'functions/dunning/handlers/reconcile.ts', authenticated: true, tableAccess: 'write', summary: "Reconcile every linked subscription's status with its tenant (the dunning ladder), now; answers what changed." },
  { id: 'GetOperation', method: 'GET', path: '/operations/{operationId}', entry: 'functions/operations/handlers/get-operation.ts', authenticated: true, tableAccess: 'read', summary: 'Status of a workflow operation: steps done, error if any.' },
];

/** Answers every request no route matches ($default on API Gateway): 404 or 405 in the API's error shape. */
export const FALLBACK_ROUTE: RouteDefinition = {
  id: 'NotFound',
  method: 'GET',
  path: '$default',
  entry: 'functions/api/not-found.ts',
  authenticated: true,
  tableAccess: 'none',
  summary: 'Unknown route.',
};

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
