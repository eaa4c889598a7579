/**
 * Who is calling, read from a JWT's claims: the one mapping of claims to a principal that API Gateway's JWT
 * authorizer (on AWS) and the local adapter (under `npm start` and the tests) both hand to the handlers.
 *
 * - The role comes from the token's scopes: the operator scope gives `operator` (everything), the tenant scope
 *   gives `tenant` (its own tenant's reads, usage reports and query leases). API Gateway reads scopes from the
 *   `scope` claim (space-separated, RFC 8693 §4.2) or the `scp` claim (a list), and so does `scopesOf`.
 * - A tenant-scoped token names its tenant in the tenant claim (`tenant_id` by default).
 * - The subject is the `sub` claim: one per user or app client (Cognito's client-credentials tokens carry the
 *   client id); it is the audit trail's `actor`.
 *
 * The scope names and the tenant claim are configuration (JWT_OPERATOR_SCOPE, JWT_TENANT_SCOPE,
 * JWT_TENANT_CLAIM), so the stack can trust an existing identity provider whose names differ.
 */
import type { RouteAccess } from '../shared/http/principal';
import { TENANT_ID_PATTERN } from '../tenants/tenant-schemas';

export const PRINCIPAL_ROLES = ['operator', 'tenant'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** Who is calling: an operator (everything) or a tenant-scoped caller (reads and query leases of its own tenant). */
export interface Principal {
  /** The token's `sub`: unique per user or app client. */
  readonly subject: string;
  readonly role: PrincipalRole;
  readonly tenantId?: string;
}

/** The resource server of the stack's own user pool and the local issuer; its scopes are `<id>/<name>`. */
export const RESOURCE_SERVER_IDENTIFIER = 'tenant-lifecycle';

/** How claims map to a principal. */
export interface ClaimMapping {
  /** The scope that makes an operator (default `tenant-lifecycle/operator`). */
  readonly operatorScope: string;
  /** The scope that makes a tenant-scoped caller (default `tenant-lifecycle/tenant`). */
  readonly tenantScope: string;
  /** The claim naming a tenant-scoped caller's tenant (default `tenant_id`). */
  readonly tenantClaim: string;
}

export const DEFAULT_CLAIM_MAPPING: ClaimMapping = {
  operatorScope: `${RESOURCE_SERVER_IDENTIFIER}/operator`,
  tenantScope: `${RESOURCE_SERVER_IDENTIFIER}/tenant`,
  tenantClaim: 'tenant_id',
};

/** The mapping in force: the defaults, each overridable by its environment variable. */
export function claimMapping(env: NodeJS.ProcessEnv = process.env): ClaimMapping {
  return {
    operatorScope: env.JWT_OPERATOR_SCOPE || DEFAULT_CLAIM_MAPPING.operatorScope,
    tenantScope: env.JWT_TENANT_SCOPE || DEFAULT_CLAIM_MAPPING.tenantScope,
    tenantClaim: env.JWT_TENANT_CLAIM || DEFAULT_CLAIM_MAPPING.tenantClaim,
  };
}

/** A token whose claims do not name a principal (no subject, no role scope, a tenant scope without a valid tenant). */
export class UnmappedClaimsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnmappedClaimsError';
  }
}

/**
 * The scopes a token grants, as API Gateway reads them: the `scope` claim split on spaces, or the `scp`
 * claim as a list (or, as API Gateway passes claims on to a handler, a string `"[a b]"` or space-separated).
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const { scope, scp } = claims;
  if (typeof scope === 'string') return scope.split(' ').filter(Boolean);
  if (Array.isArray(scp)) return scp.filter((entry): entry is string => typeof entry === 'string');
  if (typeof scp === 'string') return scp.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter(Boolean);
  return [];
}

/**
 * The principal a token's claims name; `scopes` are those API Gateway (or the local verifier) extracted.
 * Operator scope wins when a token has both. Throws UnmappedClaimsError when the claims name no principal.
 */
export function principalFromClaims(claims: Readonly<Record<string, unknown>>, scopes: readonly string[], mapping: ClaimMapping = claimMapping()): Principal {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') throw new UnmappedClaimsError('The token has no subject (`sub` claim).');
  if (scopes.includes(mapping.operatorScope)) return { subject, role: 'operator' };
  if (scopes.includes(mapping.tenantScope)) {
    const tenantId = claims[mapping.tenantClaim];
    if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
      throw new UnmappedClaimsError(`A token with scope ${mapping.tenantScope} must name its tenant in the \`${mapping.tenantClaim}\` claim.`);
    }
    return { subject, role: 'tenant', tenantId };
  }
  throw new UnmappedClaimsError(`The token grants neither ${mapping.operatorScope} nor ${mapping.tenantScope}.`);
}

/**
 * The scopes a route's authorizer accepts (API Gateway: "the token must include at least one of the route's
 * scopes"), from the route's access level: an `operator` route the operator scope; a route a tenant-scoped caller
 * may use (its own tenant, or a resource it owns: the handler checks which) either scope.
 */
export function scopesForAccess(access: RouteAccess, mapping: Pick<ClaimMapping, 'operatorScope' | 'tenantScope'> = claimMapping()): string[] {
  return access === 'operator' ? [mapping.operatorScope] : [mapping.operatorScope, mapping.tenantScope];
}
