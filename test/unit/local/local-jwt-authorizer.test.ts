/**
 * The local JWT authorizer decides as API Gateway's does: signature by `kid` against the JWKS (RSA only), `iss`,
 * `aud` (or `client_id` when there is no `aud`), `exp`, `nbf`, `iat`, the route's scopes; and hands the handler the
 * claims as API Gateway renders them. Each refusal names what to fix.
 */
import { constants, generateKeyPairSync, sign, createHmac, type KeyObject } from 'node:crypto';
import { LocalIssuer, MAX_TOKEN_TTL_SECONDS } from '../../../infra/local/local-issuer';
import { authorizeJwt, claimAsApiGatewayRendersIt, type JwtDecision } from '../../../infra/local/local-jwt-authorizer';

const OPERATOR = ['tenant-lifecycle/operator'];
const EITHER = ['tenant-lifecycle/operator', 'tenant-lifecycle/tenant'];

function movableClock(start = new Date('2026-11-30T10:00:00Z')) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (seconds: number) => void (now += seconds * 1000) };
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token made by hand (what an attacker or another system could send): the header and claims as given. */
function forged(header: Record<string, unknown>, claims: Record<string, unknown>, signer: 'none' | 'hs256' | 'foreign-rsa' | KeyObject): string {
  const input = `${b64(header)}.${b64(claims)}`;
  if (signer === 'none') return `${input}.`;
  if (signer === 'hs256') return `${input}.${createHmac('sha256', 'guessed-secret').update(input).digest('base64url')}`;
  const privateKey = signer === 'foreign-rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : signer;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

function refusal(decision: JwtDecision) {
  if (decision.authorized) throw new Error(`accepted: ${JSON.stringify(decision.jwt)}`);
  return decision.refusal;
}

describe('Function: authorizeJwt', () => {
  const clock = movableClock();
  const issuer = LocalIssuer.inMemory({ now: clock.now });
  const now = () => Math.floor(clock.now().getTime() / 1000);
  const valid = () => ({ iss: issuer.issuer, aud: issuer.audience, sub: 'ana', scope: 'tenant-lifecycle/operator', iat: now(), exp: now() + 600 });

  it("should accept a valid token and pass on its claims as API Gateway does: strings, and the token's scopes", async () => {
    const token = issuer.mint({ subject: 'acme-app', role: 'tenant', tenantId: 'acme-corp' }, { claims: { groups: ['a', 'b'], verified: true } });
    const decision = await authorizeJwt(`Bearer ${token}`, EITHER, issuer);
    expect(decision).toEqual({
      authorized: true,
      jwt: {
        claims: expect.objectContaining({ sub: 'acme-app', tenant_id: 'acme-corp', scope: 'tenant-lifecycle/tenant', iat: String(now()), exp: String(now() + 3600), groups: '[a b]', verified: 'true', iss: 'urn:tenant-lifecycle:local', aud: 'tenant-lifecycle' }),
        scopes: ['tenant-lifecycle/tenant'],
      },
    });
    // API Gateway's identity source may be the token alone, without "Bearer".
    expect((await authorizeJwt(token, EITHER, issuer)).authorized).toBe(true);
  });

  it('should refuse a missing token (401 TOKEN_MISSING) and say how to send one', async () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=']) {
      expect(refusal(await authorizeJwt(header, EITHER, issuer))).toMatchObject({ status: 401, code: 'TOKEN_MISSING', message: expect.stringContaining('"Bearer <token>"'), challenge: 'Bearer scope="tenant-lifecycle/operator tenant-lifecycle/tenant"' });
    }
  });

  it('should refuse an expired token (401 TOKEN_EXPIRED, saying when)', async () => {
    const token = issuer.mint({ subject: 'ana', role: 'operator' }, { ttlSeconds: 60 });
    clock.advance(60);
    expect(refusal(await authorizeJwt(token, OPERATOR, issuer))).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED', message: expect.stringMatching(/^The token expired at 2026-11-30T10:01:00.000Z\. Mint a new one/), challenge: expect.stringContaining('error="invalid_token"') });
  });

  it('should refuse a wrong issuer, a wrong audience, and accept client_id in place of a missing aud (as Cognito access tokens)', async () => {
    const other = LocalIssuer.inMemory({ now: clock.now, issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other' });
    const trusting = { issuer: issuer.issuer, audiences: issuer.audiences, jwks: () => other.jwks(), now: clock.now, openIdConfiguration: () => ({}) };
    expect(refusal(await authorizeJwt(other.mint({ subject: 'ana', role: 'operator' }), OPERATOR, trusting))).toMatchObject({
      status: 401,
      code: 'TOKEN_INVALID',
      message: expect.stringContaining('issued by "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"; this API trusts tokens of urn:tenant-lifecycle:local'),
    });
    const otherAudience = LocalIssuer.inMemory({ now: clock.now, audience: 'billing-api' });
    const sameIssuerOtherAudience = { issuer: issuer.issuer, audiences: ['tenant-lifecycle'], jwks: () => otherAudience.jwks(), now: clock.now, openIdConfiguration: () => ({}) };
    expect(refusal(await authorizeJwt(otherAudience.mint({ subject: 'ana', role: 'operator' }), OPERATOR, sameIssuerOtherAudience))).toMatchObject({ status: 401, code: 'TOKEN_INVALID', message: expect.stringContaining('audience "billing-api"; this API accepts tenant-lifecycle') });

    // Without aud, client_id decides (a Cognito access token: client_id, no aud).
    const cognito = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cognitoJwks = { keys: [{ ...cognito.publicKey.export({ format: 'jwk' }), kid: 'cognito-kid', alg: 'RS256', use: 'sig' }] };
    const cognitoVerification = { issuer: issuer.issuer, audiences: ['3nkoep4151b7umeggnottc30u9'], jwks: () => cognitoJwks as never, now: clock.now, openIdConfiguration: () => ({}) };
    const { aud: _aud, ...withoutAud } = valid();
    const accessToken = (clientId: string) => forged({ alg: 'RS256', kid: 'cognito-kid' }, { ...withoutAud, client_id: clientId, token_use: 'access' }, cognito.privateKey);
    expect((await authorizeJwt(accessToken('3nkoep4151b7umeggnottc30u9'), OPERATOR, cognitoVerification)).authorized).toBe(true);
    expect(refusal(await authorizeJwt(accessToken('another-client'), OPERATOR, cognitoVerification))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('client_id "another-client" and no audience') });
    // With aud, aud decides (API Gateway: "When both aud and client_id are present, API Gateway evaluates aud").
    const clientIssuer = { ...sameIssuerOtherAudience, audiences: ['3nkoep4151b7umeggnottc30u9'] };
    const withClientId = otherAudience.mint({ subject: 'svc', role: 'operator' }, { claims: { client_id: '3nkoep4151b7umeggnottc30u9' } });
    expect(refusal(await authorizeJwt(withClientId, OPERATOR, clientIssuer))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('audience "billing-api"') });
  });

  it('should refuse a token without `iss`, saying it names no issuer (not "issued by undefined")', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwks = { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] };
    const verification = { issuer: issuer.issuer, audiences: issuer.audiences, jwks: () => jwks as never, now: clock.now, openIdConfiguration: () => ({}) };
    const { iss: _iss, ...withoutIss } = valid();
    const { message } = refusal(await authorizeJwt(forged({ alg: 'RS256', kid: 'k1' }, withoutIss, keys.privateKey), OPERATOR, verification));
    expect(message).toMatch(/^The token has no issuer \(`iss`\); this API trusts tokens of urn:tenant-lifecycle:local\. Mint a new one/);
    expect(message).not.toContain('undefined');
  });

  it('should refuse RSA-PSS (PS256), which API Gateway does not list among its RSA algorithms (RS256, RS384, RS512), and accept RS384', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwks = { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' }] };
    const verification = { issuer: issuer.issuer, audiences: issuer.audiences, jwks: () => jwks as never, now: clock.now, openIdConfiguration: () => ({}) };
    const input = `${b64({ alg: 'PS256', kid: 'k1' })}.${b64(valid())}`;
    const pss = `${input}.${sign('sha256', Buffer.from(input), { key: keys.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }).toString('base64url')}`;
    expect(refusal(await authorizeJwt(pss, OPERATOR, verification))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('RS256, RS384, RS512') });
    const rs384Input = `${b64({ alg: 'RS384', kid: 'k1' })}.${b64(valid())}`;
    const rs384 = `${rs384Input}.${sign('sha384', Buffer.from(rs384Input), keys.privateKey).toString('base64url')}`;
    expect((await authorizeJwt(rs384, OPERATOR, verification)).authorized).toBe(true);
  });

  describe('with a key of its own (the claims varied one at a time)', () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwks = { keys: [{ ...keys.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] };
    const verification = { issuer: issuer.issuer, audiences: issuer.audiences, jwks: () => jwks as never, now: clock.now, openIdConfiguration: () => ({}) };
    const signed = (claims: Record<string, unknown>) => forged({ alg: 'RS256', kid: 'k1' }, claims, keys.privateKey);

    it('should refuse a token without exp (only tokens that expire), and one not valid before a later time, saying when', async () => {
      const { exp: _exp, ...withoutExp } = valid();
      expect(refusal(await authorizeJwt(signed(withoutExp), OPERATOR, verification))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('has no expiry (`exp`)') });
      const nbf = now() + 300;
      expect(refusal(await authorizeJwt(signed({ ...valid(), nbf }), OPERATOR, verification))).toMatchObject({
        code: 'TOKEN_INVALID',
        message: expect.stringContaining(`not valid before ${new Date(nbf * 1000).toISOString()}`),
      });
    });

    it('should accept aud as a list holding the audience, and name what a refused token carried instead (a list, a client_id, nothing)', async () => {
      expect((await authorizeJwt(signed({ ...valid(), aud: ['other', issuer.audience] }), OPERATOR, verification)).authorized).toBe(true);
      expect(refusal(await authorizeJwt(signed({ ...valid(), aud: ['other', 'another'] }), OPERATOR, verification)).message).toContain('has audience ["other","another"]');
      const { aud: _aud, ...withoutAud } = valid();
      expect(refusal(await authorizeJwt(signed({ ...withoutAud, client_id: 'someone-else' }), OPERATOR, verification)).message).toContain('has client_id "someone-else" and no audience');
      expect(refusal(await authorizeJwt(signed(withoutAud), OPERATOR, verification)).message).toContain('has no audience');
    });

    it('should refuse a token without any scope on a route that needs one (403 INSUFFICIENT_SCOPE, "no scope")', async () => {
      const { scope: _scope, ...withoutScope } = valid();
      expect(refusal(await authorizeJwt(signed(withoutScope), OPERATOR, verification))).toMatchObject({ code: 'INSUFFICIENT_SCOPE', message: expect.stringContaining('this one has no scope') });
    });

    it('should refuse a token whose claims part is not JSON (not a valid JWT)', async () => {
      const token = `${b64({ alg: 'RS256', kid: 'k1' })}.${Buffer.from('not json').toString('base64url')}.c2ln`;
      expect(refusal(await authorizeJwt(token, OPERATOR, verification))).toMatchObject({ code: 'TOKEN_INVALID' });
    });
  });

  it('should refuse a token signed by another key: an unknown kid, and a known kid with a foreign signature', async () => {
    const stranger = LocalIssuer.inMemory({ now: clock.now });
    expect(refusal(await authorizeJwt(stranger.mint({ subject: 'mallory', role: 'operator' }), OPERATOR, issuer))).toMatchObject({ status: 401, code: 'TOKEN_INVALID', message: expect.stringContaining('which the issuer does not publish') });
    const impostor = forged({ alg: 'RS256', typ: 'JWT', kid: issuer.currentKid }, valid(), 'foreign-rsa');
    expect(refusal(await authorizeJwt(impostor, OPERATOR, issuer))).toMatchObject({ status: 401, code: 'TOKEN_INVALID', message: expect.stringContaining('signature does not verify') });
  });

  it('should refuse alg none and HS256 (only RSA), a token without kid, and a token that is not a JWT', async () => {
    for (const alg of ['none', 'HS256'] as const) {
      const token = forged({ alg, typ: 'JWT', kid: issuer.currentKid }, valid(), alg === 'none' ? 'none' : 'hs256');
      expect(refusal(await authorizeJwt(`Bearer ${token}`, OPERATOR, issuer))).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    }
    expect(refusal(await authorizeJwt(forged({ alg: 'HS256', kid: issuer.currentKid }, valid(), 'hs256'), OPERATOR, issuer)).message).toContain('not signed with an RSA algorithm');
    expect(refusal(await authorizeJwt(forged({ alg: 'RS256' }, valid(), 'foreign-rsa'), OPERATOR, issuer)).message).toContain('names no signing key (`kid`)');
    expect(refusal(await authorizeJwt('hunter2', OPERATOR, issuer))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('is not a JWT') });
  });

  it('should refuse a token not valid yet (nbf) or issued in the future (iat)', async () => {
    expect(refusal(await authorizeJwt(issuer.sign({ sub: 'ana', scope: 'tenant-lifecycle/operator', nbf: now() + 60 }), OPERATOR, issuer))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('not valid before') });
    const futureClock = { issuer: issuer.issuer, audiences: issuer.audiences, jwks: () => issuer.jwks(), openIdConfiguration: () => ({}), now: () => new Date(clock.now().getTime() - 30_000) };
    const token = issuer.mint({ subject: 'ana', role: 'operator' });
    expect(refusal(await authorizeJwt(token, OPERATOR, futureClock))).toMatchObject({ code: 'TOKEN_INVALID', message: expect.stringContaining('issued in the future') });
  });

  it("should refuse a token without one of the route's scopes with 403 INSUFFICIENT_SCOPE, naming the scope needed", async () => {
    const tenant = issuer.mint({ subject: 'acme-app', role: 'tenant', tenantId: 'acme-corp' });
    expect(refusal(await authorizeJwt(tenant, OPERATOR, issuer))).toEqual({
      status: 403,
      code: 'INSUFFICIENT_SCOPE',
      message: 'This route needs a token with scope tenant-lifecycle/operator; this one has tenant-lifecycle/tenant.',
      challenge: 'Bearer scope="tenant-lifecycle/operator" error="insufficient_scope" error_description="This route needs a token with scope tenant-lifecycle/operator; this one has tenant-lifecycle/tenant."',
      jwt: { claims: expect.objectContaining({ sub: 'acme-app', tenant_id: 'acme-corp' }), scopes: ['tenant-lifecycle/tenant'] },
    });
    expect(refusal(await authorizeJwt(issuer.sign({ sub: 'x', scope: 'openid email' }), EITHER, issuer))).toMatchObject({ status: 403, code: 'INSUFFICIENT_SCOPE' });
  });

  it('should accept a token of a rotated-out key until it expires, then refuse it; the key leaves the JWKS 24 h after its retirement', async () => {
    const rotating = LocalIssuer.inMemory({ now: clock.now });
    const old = rotating.mint({ subject: 'ana', role: 'operator' }, { ttlSeconds: MAX_TOKEN_TTL_SECONDS });
    const oldKid = rotating.currentKid;
    clock.advance(3600);
    rotating.rotate();

    expect((await authorizeJwt(old, OPERATOR, rotating)).authorized).toBe(true);
    clock.advance(MAX_TOKEN_TTL_SECONDS - 3600 - 1);
    expect((await authorizeJwt(old, OPERATOR, rotating)).authorized).toBe(true);
    clock.advance(1);
    expect(refusal(await authorizeJwt(old, OPERATOR, rotating))).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
    clock.advance(3600);
    expect(rotating.jwks().keys.map((key) => key.kid)).not.toContain(oldKid);
  });
});

describe('Function: claimAsApiGatewayRendersIt', () => {
  it('should render every claim as a string: numbers and booleans as JSON, lists as [a b], objects as map[k:v]', () => {
    expect(['s', 1718722804, true, ['a', 'b'], { b: 2, a: 'x' }, null].map(claimAsApiGatewayRendersIt)).toEqual(['s', '1718722804', 'true', '[a b]', 'map[a:x b:2]', 'null']);
  });
});
