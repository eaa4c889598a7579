/**
 * The local issuer: keys made once per data folder and kept private, a JWKS of public keys only, rotation by
 * `kid` that keeps a retired key published exactly as long as a token it signed may live, and tokens whose claims
 * map back to the principal they were minted for.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { principalFromClaims, scopesOf } from '../../../functions/auth/jwt-claims';
import { LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer, MAX_TOKEN_TTL_SECONDS, TokenRequestError } from '../../../infra/local/local-issuer';
import { SIGNING_KEYS_FILE } from '../../../infra/local/local-settings';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'local-issuer-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A clock the test moves. */
function movableClock(start = new Date('2026-11-30T10:00:00Z')) {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (seconds: number) => void (now += seconds * 1000) };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('Class: LocalIssuer', () => {
  it("should mint RS256 JWTs that jose verifies against the issuer's JWKS, and whose claims name the principal again", async () => {
    const clock = movableClock();
    const issuer = LocalIssuer.inMemory({ now: clock.now });
    const operator = issuer.mint({ subject: 'ana@laptop', role: 'operator' });
    const tenant = issuer.mint({ subject: 'acme-corp-app@laptop', role: 'tenant', tenantId: 'acme-corp' }, { ttlSeconds: 600 });

    const { payload, protectedHeader } = await jwtVerify(operator, createLocalJWKSet(issuer.jwks()), { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, currentDate: clock.now() });
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: issuer.currentKid });
    expect(payload).toMatchObject({ sub: 'ana@laptop', scope: 'tenant-lifecycle/operator', token_use: 'access', iat: 1796032800, exp: 1796032800 + 3600, jti: expect.any(String) });
    expect(principalFromClaims(payload, scopesOf(payload))).toEqual({ subject: 'ana@laptop', role: 'operator' });
    const claims = decodeJwt(tenant);
    expect([claims.exp, principalFromClaims(claims, scopesOf(claims))]).toEqual([1796032800 + 600, { subject: 'acme-corp-app@laptop', role: 'tenant', tenantId: 'acme-corp' }]);
    expect(decodeJwt(issuer.mint({ subject: 'ana@laptop', role: 'operator' })).jti).not.toBe(payload.jti);
  });

  it('should refuse a lifetime out of 1 minute to 24 hours, a blank subject and a tenant principal without a tenant', () => {
    const issuer = LocalIssuer.inMemory();
    for (const ttlSeconds of [0, 59, MAX_TOKEN_TTL_SECONDS + 1, 1.5]) {
      expect(() => issuer.mint({ subject: 'a', role: 'operator' }, { ttlSeconds })).toThrow(new TokenRequestError(`A token's lifetime must be a whole number of seconds from 60 to 86400 (24 h), got ${ttlSeconds}.`));
    }
    expect(() => issuer.mint({ subject: ' ', role: 'operator' })).toThrow(TokenRequestError);
    expect(() => issuer.mint({ subject: 'a', role: 'tenant' })).toThrow('A tenant-scoped token needs its tenant id.');
  });

  it('should serve public keys only in the JWKS: kty, n, e, kid, alg, use', () => {
    const [key, ...others] = LocalIssuer.inMemory().jwks().keys;
    expect(others).toEqual([]);
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(PRIVATE_MEMBERS.filter((member) => member in (key ?? {}))).toEqual([]);
  });

  it('should keep its keys in the data folder, readable by the owner only, and sign with the same key on the next open', () => {
    const first = LocalIssuer.open(root);
    const file = join(root, SIGNING_KEYS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ keys: [expect.objectContaining({ kid: first.currentKid, privateJwk: expect.objectContaining({ d: expect.any(String) }) })] });
    expect(LocalIssuer.open(root).currentKid).toBe(first.currentKid);
    expect(decodeProtectedHeader(LocalIssuer.open(root).mint({ subject: 'a', role: 'operator' })).kid).toBe(first.currentKid);
    expect(LocalIssuer.open(join(root, 'other')).currentKid).not.toBe(first.currentKid);
  });

  it('should rotate by kid: a new signing key, the retired one published until 24 h after its retirement, then dropped', () => {
    const clock = movableClock();
    const before = LocalIssuer.open(root, { now: clock.now });
    const oldKid = before.currentKid;

    clock.advance(600);
    const rotated = LocalIssuer.open(root, { now: clock.now, rotate: true });
    const newKid = rotated.currentKid;
    expect(newKid).not.toBe(oldKid);
    expect(decodeProtectedHeader(rotated.mint({ subject: 'a', role: 'operator' })).kid).toBe(newKid);
    expect(rotated.jwks().keys.map((key) => key.kid)).toEqual([oldKid, newKid]);

    clock.advance(MAX_TOKEN_TTL_SECONDS - 1);
    expect(LocalIssuer.open(root, { now: clock.now }).jwks().keys.map((key) => key.kid)).toEqual([oldKid, newKid]);
    clock.advance(1);
    expect(rotated.jwks().keys.map((key) => key.kid)).toEqual([newKid]);
    LocalIssuer.open(root, { now: clock.now });
    expect((JSON.parse(readFileSync(join(root, SIGNING_KEYS_FILE), 'utf8')) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid)).toEqual([newKid]);
  });

  it('should take its audience from JWT_AUDIENCE when set (npm start and npm run token read the same variable)', () => {
    const saved = process.env.JWT_AUDIENCE;
    process.env.JWT_AUDIENCE = 'https://api.example.com/tenant-lifecycle';
    try {
      const issuer = LocalIssuer.inMemory();
      expect([issuer.audiences, decodeJwt(issuer.mint({ subject: 'a', role: 'operator' })).aud]).toEqual([['https://api.example.com/tenant-lifecycle'], 'https://api.example.com/tenant-lifecycle']);
    } finally {
      if (saved === undefined) delete process.env.JWT_AUDIENCE;
      else process.env.JWT_AUDIENCE = saved;
    }
    expect(LocalIssuer.inMemory().audience).toBe('tenant-lifecycle');
  });

  it('should describe itself for discovery: issuer and jwks_uri', () => {
    expect(LocalIssuer.inMemory().openIdConfiguration('http://127.0.0.1:3000')).toMatchObject({ issuer: LOCAL_ISSUER, jwks_uri: 'http://127.0.0.1:3000/.well-known/jwks.json' });
  });
});
