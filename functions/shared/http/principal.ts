/** The caller, as the authorizer described it, and the route-level access rules. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { PRINCIPAL_ROLES, type Principal, type PrincipalRole } from '../../auth/api-tokens';
import { ApiError } from '../errors';

/**
 * Who may call a route: operators only; operators and the tenant's own callers (the tenant named in the
 * path); or any principal, the route itself checking with `mayActFor` the tenant of what it reads (a
 * resource whose path does not name its tenant, like an operation).
 */
export type RouteAccess = 'operator' | 'operator-or-own-tenant' | 'operator-or-owner-of-resource';

interface AuthorizerLambdaContext {
  readonly subject?: string;
  readonly role?: string;
  readonly tenantId?: string;
}

/** The principal from API Gateway's authorizer context; 401 when absent (defence in depth behind the authorizer). */
export function principalOf(event: APIGatewayProxyEventV2): Principal {
  const context = (event.requestContext as { authorizer?: { lambda?: AuthorizerLambdaContext } }).authorizer?.lambda;
  if (!context?.subject || !PRINCIPAL_ROLES.includes(context.role as PrincipalRole)) {
    throw new ApiError(401, 'UNAUTHENTICATED', 'This route needs an Authorization header: "Bearer <token>".');
  }
  return { subject: context.subject, role: context.role as PrincipalRole, ...(context.tenantId ? { tenantId: context.tenantId } : {}) };
}

/** Whether the principal may use the resources of this tenant: operators any, a tenant-scoped token its own. */
export function mayActFor(principal: Principal, tenantId: string): boolean {
  return principal.role === 'operator' || principal.tenantId === tenantId;
}

/** 403 unless the principal may use this route on this tenant. */
export function authorizeRoute(principal: Principal, access: RouteAccess, tenantId: string | undefined): void {
  if (principal.role === 'operator' || access === 'operator-or-owner-of-resource') return;
  if (access === 'operator') {
    throw new ApiError(403, 'FORBIDDEN', 'This route needs an operator token; tenant-scoped tokens may only read their own tenant, report its usage and take its query leases.');
  }
  if (tenantId === undefined || !mayActFor(principal, tenantId)) {
    throw new ApiError(403, 'FORBIDDEN', "A tenant-scoped token may only use its own tenant's resources.");
  }
}
