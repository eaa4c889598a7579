/**
 * API tokens: `tlc.<payload>.<signature>`, base64url, HMAC-SHA256 over the payload with the deployment's
 * token key. Stateless to verify (the authorizer needs no table read). Revocation is by expiry or by rotating
 * the key; on AWS either takes effect within the authorizer's result cache (1 min) plus its key cache (5 min).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const PRINCIPAL_ROLES = ['operator', 'tenant'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** Who is calling: an operator (everything) or a tenant-scoped caller (reads and query leases of its own tenant). */
export interface Principal {
  readonly subject: string;
  readonly role: PrincipalRole;
  readonly tenantId?: string;
}

export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

const PREFIX = 'tlc';

interface Claims {
  sub: string;
  role: PrincipalRole;
  tid?: string;
  iat: number;
  exp?: number;
}

function sign(payload: string, key: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

/** Mint a token; `ttlSeconds` omitted means it does not expire (use for local stacks only). */
export function signToken(principal: Principal, key: string, options: { ttlSeconds?: number; now?: Date } = {}): string {
  if (principal.role === 'tenant' && !principal.tenantId) throw new Error('A tenant-scoped token needs a tenantId.');
  // eslint-disable-next-line no-restricted-syntax -- tokens are minted and judged on the wall clock (see verifyToken)
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims: Claims = { sub: principal.subject, role: principal.role, tid: principal.tenantId, iat };
  if (options.ttlSeconds !== undefined) claims.exp = iat + options.ttlSeconds;
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${PREFIX}.${payload}.${sign(payload, key)}`;
}

/**
 * The principal a token names, or InvalidTokenError saying why it is refused. Expiry is judged on the wall
 * clock, not functions/shared/clock.ts: tokens are minted on the wall clock (`npm run token` is another
 * process), and moving the local stack's clock must not expire or revive a credential.
 */
// eslint-disable-next-line no-restricted-syntax -- a credential's expiry is judged on the wall clock, never a moved one
export function verifyToken(token: string, key: string, now: Date = new Date()): Principal {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) throw new InvalidTokenError('The token is not a tenant-lifecycle API token.');
  const [, payload, signature] = parts as [string, string, string];
  const expected = Buffer.from(sign(payload, key));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidTokenError('The token signature is not valid.');
  let claims: Partial<Claims>;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Claims>;
  } catch {
    throw new InvalidTokenError('The token payload is unreadable.');
  }
  if (typeof claims.sub !== 'string' || !PRINCIPAL_ROLES.includes(claims.role as PrincipalRole)) {
    throw new InvalidTokenError('The token does not name a subject and role.');
  }
  if (claims.role === 'tenant' && typeof claims.tid !== 'string') throw new InvalidTokenError('A tenant token must name its tenant.');
  if (claims.exp !== undefined && claims.exp * 1000 <= now.getTime()) throw new InvalidTokenError('The token has expired.');
  return { subject: claims.sub, role: claims.role as PrincipalRole, ...(claims.tid ? { tenantId: claims.tid } : {}) };
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
