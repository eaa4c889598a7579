/** The caller, as API Gateway's JWT authorizer passed it on, and the route-level access rules. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { UnmappedClaimsError, principalFromClaims, scopesOf, type Principal } from '../../auth/jwt-claims';
import { ApiError } from '../errors';

/**
 * Who may call a route: operators only; operators and the tenant's own callers (the tenant named in the
 * path); or any principal, the route itself checking with `mayActFor` the tenant of what it reads (a
 * resource whose path does not name its tenant, like an operation).
 */
export type RouteAccess = 'operator' | 'operator-or-own-tenant' | 'operator-or-owner-of-resource';

/**
 * What API Gateway's JWT authorizer hands the handler (payload 2.0): `requestContext.authorizer.jwt`, every claim
 * a string, and the token's scopes (null when it has none).
 */
export interface JwtAuthorizerContext {
  readonly claims?: Readonly<Record<string, unknown>> | null;
  readonly scopes?: readonly string[] | null;
}

function jwtContextOf(event: APIGatewayProxyEventV2): JwtAuthorizerContext | undefined {
  return (event.requestContext as { authorizer?: { jwt?: JwtAuthorizerContext } | null }).authorizer?.jwt ?? undefined;
}

/**
 * The principal the verified token's claims name (principalFromClaims: scopes give the role, the tenant claim the
 * tenant, `sub` the subject). 401 UNAUTHENTICATED when the event carries no JWT context or its claims name no
 * principal: defence in depth behind the authorizer, which refuses tokens that fail verification.
 */
export function principalOf(event: APIGatewayProxyEventV2): Principal {
  const jwt = jwtContextOf(event);
  if (!jwt?.claims) throw new ApiError(401, 'UNAUTHENTICATED', 'This route needs an Authorization header: "Bearer <token>".');
  try {
    return principalFromClaims(jwt.claims, jwt.scopes?.length ? jwt.scopes : scopesOf(jwt.claims));
  } catch (error) {
    if (error instanceof UnmappedClaimsError) throw new ApiError(401, 'UNAUTHENTICATED', `${error.message} Ask for a token that names its role and tenant.`);
    throw error;
  }
}

/** The principal when the event names one, else undefined (the request log's caller; never throws for a caller). */
export function callerOf(event: APIGatewayProxyEventV2): Principal | undefined {
  try {
    return principalOf(event);
  } catch {
    return undefined;
  }
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
