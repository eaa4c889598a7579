/** The caller, as the authorizer described it, and the route-level access rules. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { PRINCIPAL_ROLES, type Principal, type PrincipalRole } from '../../auth/api-tokens';
import { ApiError } from '../errors';

/** Who may call a route: operators only, or operators and the tenant's own application-plane callers. */
export type RouteAccess = 'operator' | 'operator-or-own-tenant';

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

/** 403 unless the principal may use this route on this tenant. */
export function authorizeRoute(principal: Principal, access: RouteAccess, tenantId: string | undefined): void {
  if (principal.role === 'operator') return;
  if (access === 'operator') {
    throw new ApiError(403, 'FORBIDDEN', 'This route needs an operator token; tenant-scoped tokens may only read their own tenant, report its usage and take its query leases.');
  }
  if (tenantId === undefined || principal.tenantId !== tenantId) {
    throw new ApiError(403, 'FORBIDDEN', "A tenant-scoped token may only use its own tenant's resources.");
  }
}
