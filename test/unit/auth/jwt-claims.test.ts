/**
 * The one mapping of a verified token's claims to a principal, as the handlers apply it to what API Gateway's JWT
 * authorizer passes on (every claim a string; `scp` lists as `[a b]`), and the scopes each route level accepts.
 */
import { DEFAULT_CLAIM_MAPPING, claimMapping, principalFromClaims, scopesForAccess, scopesOf, UnmappedClaimsError } from '../../../functions/auth/jwt-claims';

describe('Function: scopesOf', () => {
  it('should read `scope` space-separated, `scp` as a list or as API Gateway renders a list, and nothing else', () => {
    expect(scopesOf({ scope: 'openid tenant-lifecycle/operator' })).toEqual(['openid', 'tenant-lifecycle/operator']);
    expect(scopesOf({ scp: ['tenant-lifecycle/tenant', 7] })).toEqual(['tenant-lifecycle/tenant']);
    expect(scopesOf({ scp: '[tenant-lifecycle/tenant openid]' })).toEqual(['tenant-lifecycle/tenant', 'openid']);
    expect(scopesOf({ permissions: ['tenant-lifecycle/operator'] })).toEqual([]);
  });
});

describe('Function: principalFromClaims', () => {
  it('should make an operator of the operator scope (even with the tenant scope too), and a tenant of the tenant scope and tenant_id', () => {
    expect(principalFromClaims({ sub: 'ana' }, ['tenant-lifecycle/tenant', 'tenant-lifecycle/operator'])).toEqual({ subject: 'ana', role: 'operator' });
    expect(principalFromClaims({ sub: 'client-1', tenant_id: 'acme-corp' }, ['tenant-lifecycle/tenant'])).toEqual({ subject: 'client-1', role: 'tenant', tenantId: 'acme-corp' });
  });

  it('should refuse claims that name no principal: no sub, no role scope, a tenant scope without a valid tenant id', () => {
    const cases: Array<[Record<string, unknown>, string[], RegExp]> = [
      [{}, ['tenant-lifecycle/operator'], /no subject/],
      [{ sub: 'a' }, ['openid'], /grants neither tenant-lifecycle\/operator nor tenant-lifecycle\/tenant/],
      [{ sub: 'a' }, ['tenant-lifecycle/tenant'], /must name its tenant in the `tenant_id` claim/],
      [{ sub: 'a', tenant_id: 'BAD_ID' }, ['tenant-lifecycle/tenant'], /must name its tenant/],
    ];
    for (const [claims, scopes, says] of cases) expect(() => principalFromClaims(claims, scopes)).toThrow(expect.objectContaining({ name: UnmappedClaimsError.name, message: expect.stringMatching(says) }));
  });

  it("should follow an identity provider's own names (JWT_OPERATOR_SCOPE, JWT_TENANT_SCOPE, JWT_TENANT_CLAIM)", () => {
    const mapping = claimMapping({ JWT_OPERATOR_SCOPE: 'admin', JWT_TENANT_SCOPE: 'api/tenant', JWT_TENANT_CLAIM: 'org' });
    expect(principalFromClaims({ sub: 'c', org: 'acme-corp' }, ['api/tenant'], mapping)).toEqual({ subject: 'c', role: 'tenant', tenantId: 'acme-corp' });
    expect(() => principalFromClaims({ sub: 'c' }, ['tenant-lifecycle/operator'], mapping)).toThrow(UnmappedClaimsError);
    expect(claimMapping({})).toEqual(DEFAULT_CLAIM_MAPPING);
  });
});

describe('Function: scopesForAccess', () => {
  it("should accept the operator scope on operators-only routes, and either scope where a tenant may act on its own", () => {
    expect(scopesForAccess('operator')).toEqual(['tenant-lifecycle/operator']);
    expect(scopesForAccess('operator-or-own-tenant')).toEqual(['tenant-lifecycle/operator', 'tenant-lifecycle/tenant']);
    expect(scopesForAccess('operator-or-owner-of-resource', claimMapping({ JWT_OPERATOR_SCOPE: 'admin', JWT_TENANT_SCOPE: 'app' }))).toEqual(['admin', 'app']);
  });
});
