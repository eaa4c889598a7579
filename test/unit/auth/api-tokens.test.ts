import { createHmac } from 'node:crypto';
import { InvalidTokenError, bearerToken, signToken, verifyToken } from '../../../functions/auth/api-tokens';

const KEY = 'unit-test-key-0123456789abcdef';

describe('Module: api-tokens', () => {
  it('should round-trip an operator and a tenant-scoped principal', () => {
    expect(verifyToken(signToken({ subject: 'ops', role: 'operator' }, KEY), KEY)).toEqual({ subject: 'ops', role: 'operator' });
    expect(verifyToken(signToken({ subject: 'app', role: 'tenant', tenantId: 'acme-corp' }, KEY), KEY)).toEqual({
      subject: 'app',
      role: 'tenant',
      tenantId: 'acme-corp',
    });
  });

  it('should refuse a token signed with another key', () => {
    const token = signToken({ subject: 'ops', role: 'operator' }, 'some-other-key-0123456789');
    expect(() => verifyToken(token, KEY)).toThrow(InvalidTokenError);
  });

  it('should refuse a token whose payload was changed to claim another tenant or role', () => {
    const token = signToken({ subject: 'app', role: 'tenant', tenantId: 'acme-corp' }, KEY);
    const [prefix, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'app', role: 'operator', iat: 1 })).toString('base64url');
    expect(() => verifyToken(`${prefix}.${forged}.${signature}`, KEY)).toThrow('signature');
  });

  it('should refuse an expired token and accept it before expiry', () => {
    const issued = new Date('2026-01-01T00:00:00Z');
    const token = signToken({ subject: 'ops', role: 'operator' }, KEY, { ttlSeconds: 60, now: issued });
    expect(verifyToken(token, KEY, new Date('2026-01-01T00:00:59Z')).subject).toBe('ops');
    expect(() => verifyToken(token, KEY, new Date('2026-01-01T00:01:00Z'))).toThrow('expired');
  });

  it('should refuse a tenant token without a tenant, at signing', () => {
    expect(() => signToken({ subject: 'x', role: 'tenant' }, KEY)).toThrow('tenantId');
  });

  it.each(['', 'abc', 'tlc.onlytwo', 'jwt.a.b', 'tlc.a.b.c'])('should refuse the malformed token %p', (token) => {
    expect(() => verifyToken(token, KEY)).toThrow(InvalidTokenError);
  });

  it('should read only Bearer credentials', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   xyz ')).toBe('xyz');
    expect(bearerToken('Basic Zm9vOmJhcg==')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  describe('signed tokens with unusable claims', () => {
    const key = 'a-key-that-is-long-enough-0123456789';
    /** A token correctly signed with `key` whose payload says `claims` (what a buggy or hostile minter could issue). */
    function signedClaims(claims: unknown): string {
      const payload = Buffer.from(typeof claims === 'string' ? claims : JSON.stringify(claims)).toString('base64url');
      return `tlc.${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
    }

    it.each([
      ['no subject', { role: 'operator', iat: 1 }, 'The token does not name a subject and role.'],
      ['an unknown role', { sub: 'x', role: 'admin', iat: 1 }, 'The token does not name a subject and role.'],
      ['a tenant role without a tenant', { sub: 'x', role: 'tenant', iat: 1 }, 'A tenant token must name its tenant.'],
      ['a payload that is not JSON', 'not json', 'The token payload is unreadable.'],
    ])('should refuse a token with %s, saying why', (_, claims, message) => {
      expect(() => verifyToken(signedClaims(claims), key)).toThrow(new InvalidTokenError(message));
    });

    it('should refuse a token of another format', () => {
      expect(() => verifyToken('Bearer.abc', key)).toThrow('The token is not a tenant-lifecycle API token.');
      expect(() => verifyToken('tlc.abc', key)).toThrow('The token is not a tenant-lifecycle API token.');
    });
  });
});
