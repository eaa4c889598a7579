/**
 * The user pool's pre token generation trigger (V3_0), invoked with the event Cognito documents
 * (test/events/cognito-pre-token-generation-v3.json): the tenant a client-credentials token request asks for in
 * its client metadata becomes the token's tenant claim after the tenant id rule; a user's `custom:tenant_id`
 * makes a tenant-scoped token; nothing else names a tenant.
 */
import { customizeToken, handler, TokenRequestRefusedError } from '../../functions/auth/pre-token-generation';
import { DEFAULT_CLAIM_MAPPING } from '../../functions/auth/jwt-claims';
import { preTokenGenerationEvent } from '../support/events';

const accessTokenOf = (event: ReturnType<typeof preTokenGenerationEvent>) => event.response.claimsAndScopeOverrideDetails?.accessTokenGeneration;

describe('Pre token generation trigger: client credentials (the application plane)', () => {
  it("should add the tenant claim the request's aws_client_metadata names, and change no scope", async () => {
    const event = await handler(preTokenGenerationEvent({ clientMetadata: { tenant_id: 'acme' } }));
    expect(accessTokenOf(event)).toEqual({ claimsToAddOrOverride: { tenant_id: 'acme' } });
  });

  it('should name the claim as the mapping says (-c jwtTenantClaim / JWT_TENANT_CLAIM)', () => {
    const event = customizeToken(preTokenGenerationEvent({ clientMetadata: { tenant_id: 'acme-eu' } }), { ...DEFAULT_CLAIM_MAPPING, tenantClaim: 'org' });
    expect(accessTokenOf(event)).toEqual({ claimsToAddOrOverride: { org: 'acme-eu' } });
  });

  it('should refuse a request without client metadata, saying what to send', async () => {
    const event = preTokenGenerationEvent({ clientMetadata: undefined });
    await expect(handler(event)).rejects.toThrow(TokenRequestRefusedError);
    await expect(handler(event)).rejects.toThrow('send aws_client_metadata={"tenant_id":"<tenant id>"} with the token request');
  });

  it.each([['BAD_ID'], ['ab'], ['-acme'], ['acme/../other'], ['a'.repeat(64)], ['']])('should refuse tenant id %j, naming it', (tenantId) => {
    expect(() => customizeToken(preTokenGenerationEvent({ clientMetadata: { tenant_id: tenantId } }))).toThrow(`got ${JSON.stringify(tenantId)}`);
  });

  it('should refuse metadata naming the tenant under another key', () => {
    expect(() => customizeToken(preTokenGenerationEvent({ clientMetadata: { tenantId: 'acme' } }))).toThrow(TokenRequestRefusedError);
  });
});

describe('Pre token generation trigger: a user signing in', () => {
  const userSignIn = (userAttributes: Record<string, string>, clientMetadata?: Record<string, string>) =>
    preTokenGenerationEvent({ userAttributes: { sub: 'a1b2c3d4-user', email: 'ada@example.com', ...userAttributes }, clientMetadata, scopes: ['openid', 'tenant-lifecycle/operator'] }, { triggerSource: 'TokenGeneration_HostedAuth', userName: 'a1b2c3d4-user' });

  it("should make a user with custom:tenant_id that tenant's: tenant claim, tenant scope, no operator scope", async () => {
    const event = await handler(userSignIn({ 'custom:tenant_id': 'acme' }));
    expect(accessTokenOf(event)).toEqual({
      claimsToAddOrOverride: { tenant_id: 'acme' },
      scopesToAdd: ['tenant-lifecycle/tenant'],
      scopesToSuppress: ['tenant-lifecycle/operator'],
    });
  });

  it('should leave an operator (no custom:tenant_id) token unchanged', async () => {
    const event = userSignIn({});
    expect(await handler(event)).toEqual(event);
  });

  it('should ignore client metadata a user sends: it names no tenant for a user', () => {
    expect(accessTokenOf(customizeToken(userSignIn({}, { tenant_id: 'acme' })))).toBeUndefined();
    expect(accessTokenOf(customizeToken(userSignIn({ 'custom:tenant_id': 'globex' }, { tenant_id: 'acme' })))?.claimsToAddOrOverride).toEqual({ tenant_id: 'globex' });
  });

  it('should refuse the sign-in of a user whose custom:tenant_id is not a tenant id', async () => {
    await expect(handler(userSignIn({ 'custom:tenant_id': 'Not A Tenant' }))).rejects.toThrow('User a1b2c3d4-user has custom:tenant_id "Not A Tenant", which is not a tenant id');
  });
});
