/**
 * The local adapter's JWT authorizer, over HTTP as a client meets it: every kind of token API Gateway's JWT
 * authorizer refuses gets its 401/403 in the API's error shape (with `www-authenticate`) and changes nothing; a
 * rotated-out key's tokens work until they expire; the handler acts as the token's subject; the tenant check
 * stays the handler's. The issuers here share one JWKS (so a wrong issuer or audience is signed by a published key),
 * and one clock the test moves.
 */
import { createHmac } from 'node:crypto';
import { ROUTES } from '../../../functions/api/routes';
import { startLocalApi, type LocalApi } from '../../../infra/local/http-adapter';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer, MAX_TOKEN_TTL_SECONDS, type TokenVerification } from '../../../infra/local/local-issuer';
import { ApiHarness } from '../../support/api-harness';

let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);
const harness = new ApiHarness({ issuer: { now } });
const trusted = harness.issuer;
/** Published keys, wrong claims: another issuer name, another audience. */
const otherIssuer = LocalIssuer.inMemory({ now, issuer: 'https://idp.example.com/' });
const otherAudience = LocalIssuer.inMemory({ now, audience: 'billing-api' });
/** A key nobody publishes. */
const stranger = LocalIssuer.inMemory({ now });
const verification: TokenVerification = {
  issuer: LOCAL_ISSUER,
  audiences: [LOCAL_AUDIENCE],
  jwks: () => ({ keys: [...trusted.jwks().keys, ...otherIssuer.jwks().keys, ...otherAudience.jwks().keys] }),
  now,
  openIdConfiguration: (baseUrl) => trusted.openIdConfiguration(baseUrl),
};
let api: LocalApi;

beforeAll(async () => {
  await harness.start();
  api = await startLocalApi({ tokens: verification });
  await harness.createTenant('jwt-acme');
  await harness.createTenant('jwt-other');
});
afterAll(async () => {
  await api.close();
  await harness.stop();
});
afterEach(() => {
  offsetMs = 0;
});

interface Answer {
  status: number;
  challenge: string | null;
  body: { error?: { code: string; message: string }; state?: string; items?: Array<{ actor: string; event: string }> };
}

async function send(method: string, path: string, authorization: string | undefined): Promise<Answer> {
  const response = await fetch(`${api.url}${path}`, { method, headers: { ...(authorization === undefined ? {} : { authorization }), ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, body: method === 'POST' ? '{}' : undefined });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as Answer['body'] };
}

/** A suspend of jwt-acme with this header: the answer, and whether the table is unchanged. */
async function suspendWith(authorization: string | undefined): Promise<Answer & { unchanged: boolean }> {
  const before = await harness.tableSnapshot();
  const answer = await send('POST', '/tenants/jwt-acme/suspend', authorization);
  return { ...answer, unchanged: JSON.stringify(await harness.tableSnapshot()) === JSON.stringify(before) };
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = () => ({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, sub: 'mallory', scope: 'tenant-lifecycle/operator', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 });

describe('Local JWT authorizer (over HTTP)', () => {
  it.each([
    ['no token', () => undefined, 401, 'TOKEN_MISSING', /Bearer <token>/],
    ['a token signed by a key the issuer does not publish', () => `Bearer ${stranger.mint({ subject: 'mallory', role: 'operator' })}`, 401, 'TOKEN_INVALID', /does not publish/],
    ['a wrong issuer', () => `Bearer ${otherIssuer.mint({ subject: 'mallory', role: 'operator' })}`, 401, 'TOKEN_INVALID', /issued by "https:\/\/idp\.example\.com\/"; this API trusts tokens of urn:tenant-lifecycle:local/],
    ['a wrong audience', () => `Bearer ${otherAudience.mint({ subject: 'mallory', role: 'operator' })}`, 401, 'TOKEN_INVALID', /audience "billing-api"; this API accepts tenant-lifecycle/],
    ['alg none', () => `Bearer ${b64({ alg: 'none', typ: 'JWT', kid: trusted.currentKid })}.${b64(claims())}.`, 401, 'TOKEN_INVALID', /not signed with an RSA algorithm/],
    [
      'HS256 keyed with the public modulus',
      () => {
        const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: trusted.currentKid })}.${b64(claims())}`;
        return `Bearer ${input}.${createHmac('sha256', trusted.jwks().keys[0]?.n ?? '').update(input).digest('base64url')}`;
      },
      401,
      'TOKEN_INVALID',
      /not signed with an RSA algorithm/,
    ],
    ['a tenant token (no operator scope)', () => `Bearer ${harness.tenantToken('jwt-acme')}`, 403, 'INSUFFICIENT_SCOPE', /needs a token with scope tenant-lifecycle\/operator; this one has tenant-lifecycle\/tenant/],
  ])('should refuse %s in the error shape (status, code, what to fix), and change nothing', async (_name, authorization, status, code, says) => {
    const answer = await suspendWith(authorization());
    expect([answer.status, answer.body.error?.code, answer.unchanged]).toEqual([status, code, true]);
    expect(answer.body.error?.message).toMatch(says);
    // As API Gateway's: the route's scopes for a missing token or a missing scope, `scope=""` for an invalid token.
    const challenges: Record<string, RegExp> = {
      TOKEN_MISSING: /^Bearer scope="tenant-lifecycle\/operator"$/,
      TOKEN_INVALID: /^Bearer scope="" error="invalid_token" error_description="[^"]+"$/,
      INSUFFICIENT_SCOPE: /^Bearer scope="tenant-lifecycle\/operator" error="insufficient_scope" error_description="[^"]+"$/,
    };
    expect(answer.challenge).toMatch(challenges[code] as RegExp);
  });

  it('should refuse an expired token with 401 TOKEN_EXPIRED, saying when it expired', async () => {
    offsetMs = -2 * 3600_000;
    const expired = trusted.mint({ subject: 'ana', role: 'operator' }, { ttlSeconds: 3600 });
    offsetMs = 0;
    const answer = await suspendWith(`Bearer ${expired}`);
    expect([answer.status, answer.body.error?.code, answer.unchanged]).toEqual([401, 'TOKEN_EXPIRED', true]);
    expect(answer.body.error?.message).toMatch(/^The token expired at \d{4}-\d\d-\d\dT/);
  });

  it("should keep a tenant token on another tenant's data the handler's 403 FORBIDDEN, and let it read its own", async () => {
    const token = `Bearer ${harness.tenantToken('jwt-acme')}`;
    expect((await send('GET', '/tenants/jwt-acme', token)).status).toBe(200);
    const other = await send('GET', '/tenants/jwt-other', token);
    expect([other.status, other.body.error?.code, other.challenge]).toEqual([403, 'FORBIDDEN', null]);
  });

  it("should accept a rotated-out key's token until it expires, then refuse it; the new key signs from the rotation on", async () => {
    const beforeRotation = trusted.mint({ subject: 'ana@rotation', role: 'operator' }, { ttlSeconds: 2 * 3600 });
    trusted.rotate();
    const afterRotation = trusted.mint({ subject: 'ana@rotation', role: 'operator' });

    expect((await send('GET', '/tenants/jwt-acme', `Bearer ${beforeRotation}`)).status).toBe(200);
    expect((await send('GET', '/tenants/jwt-acme', `Bearer ${afterRotation}`)).status).toBe(200);
    offsetMs = 2 * 3600_000;
    const expired = await send('GET', '/tenants/jwt-acme', `Bearer ${beforeRotation}`);
    expect([expired.status, expired.body.error?.code]).toEqual([401, 'TOKEN_EXPIRED']);
    // Past 24 h after the rotation the old key is no longer published at all.
    offsetMs = MAX_TOKEN_TTL_SECONDS * 1000;
    const jwks = (await (await fetch(`${api.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((key) => key.kid)).toContain(trusted.currentKid);
    expect(jwks.keys).toHaveLength(3); // the trusted issuer's current key and the two other issuers'
  });

  it("should act as the token's subject: the audit trail's actor is its sub", async () => {
    const answer = await suspendWith(`Bearer ${trusted.mint({ subject: 'ops-4b1c@example.com', role: 'operator' })}`);
    expect([answer.status, answer.body.state]).toEqual([200, 'suspended']);
    const history = await send('GET', '/tenants/jwt-acme/history?limit=1', `Bearer ${harness.operatorToken}`);
    expect(history.body.items?.[0]).toMatchObject({ event: 'suspend', actor: 'ops-4b1c@example.com' });
  });

  it("should ask every authenticated route for its access level's scopes: operators-only routes refuse a tenant token, the others let it through to the handler", async () => {
    const tenantToken = `Bearer ${harness.tenantToken('jwt-nobody')}`;
    const seen: Array<[string, string, number, string | undefined]> = [];
    for (const route of ROUTES.filter((candidate) => candidate.authenticated)) {
      const path = route.path.replace(/\{\w+\}/g, 'jwt-nobody');
      const answer = await send(route.method, path, tenantToken);
      seen.push([route.method, route.path, answer.status, answer.body.error?.code]);
    }
    const refusedForScope = seen.filter(([, , , code]) => code === 'INSUFFICIENT_SCOPE').map(([method, path]) => `${method} ${path}`);
    const operatorsOnly = ROUTES.filter((route) => route.access === 'operator').map((route) => `${route.method} ${route.path}`);
    expect(operatorsOnly.length).toBeGreaterThan(5);
    expect(refusedForScope.sort()).toEqual(operatorsOnly.sort());
    expect(seen.filter(([, , status]) => status === 401)).toEqual([]);
  });

  it('should serve the JWKS without a token, public members only', async () => {
    const response = await fetch(`${api.url}/.well-known/jwks.json`);
    const { keys } = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(response.status).toBe(200);
    for (const key of keys) expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });
});
