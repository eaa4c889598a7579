/**
 * The local stand-in for API Gateway HTTP API's native JWT authorizer: verifies a request's token as API Gateway
 * does ("Control access to HTTP APIs with JWT authorizers in API Gateway",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html), with `jose`, and
 * answers what API Gateway hands the handler (`requestContext.authorizer.jwt`) or the refusal in the API's error shape.
 *
 * 1. The token is the identity source (`Authorization`), alone or prefixed with `Bearer`.
 * 2. Its header names a `kid` of the issuer's JWKS, and its signature verifies with that key; only RSA algorithms.
 * 3. Claims: `iss` is the issuer; `aud` contains one of the audiences, or, only when there is no `aud`, `client_id`
 *    is one of them (Cognito's access tokens carry `client_id`); `exp` is after now; `nbf` and `iat`, when present,
 *    are not after now.
 * 4. Scopes: the token has at least one of the route's scopes (`scope`, space-separated, or `scp`).
 * A token refused in 1-3 is 401 (TOKEN_MISSING, TOKEN_EXPIRED or TOKEN_INVALID, saying why), in 4 is 403
 * INSUFFICIENT_SCOPE; each with a `www-authenticate` header as API Gateway sends (RFC 6750 §3).
 */
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { scopesOf } from '../../functions/auth/jwt-claims';
import type { TokenVerification } from './local-issuer';

/**
 * The algorithms API Gateway's JWT authorizer verifies: "only RSA-based algorithms" (HTTP API developer guide), the
 * RSA values of its JwtConfiguration (RS256, RS384, RS512; API Gateway API reference); not RSA-PSS.
 */
export const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

/** What API Gateway passes to the handler after a token is accepted: `event.requestContext.authorizer.jwt`. */
export interface JwtAuthorizerContext {
  /** Every claim of the token, each rendered as API Gateway renders it (jwtClaimsContext). */
  readonly claims: Record<string, string>;
  /** The token's scopes, or null when it has none. */
  readonly scopes: string[] | null;
}

/** Each refusal's status: 401 for a token that is missing or not accepted, 403 for one without the route's scope. */
export const REFUSAL_STATUS = { TOKEN_MISSING: 401, TOKEN_INVALID: 401, TOKEN_EXPIRED: 401, INSUFFICIENT_SCOPE: 403 } as const;
export type JwtRefusalCode = keyof typeof REFUSAL_STATUS;

export interface JwtRefusal {
  readonly status: 401 | 403;
  readonly code: JwtRefusalCode;
  readonly message: string;
  /** The `www-authenticate` header's value (RFC 6750 §3). */
  readonly challenge: string;
  /** For a verified token without the route's scope: what it carried (so the request log can name its caller). */
  readonly jwt?: JwtAuthorizerContext;
}

export type JwtDecision = { readonly authorized: true; readonly jwt: JwtAuthorizerContext } | { readonly authorized: false; readonly refusal: JwtRefusal };

/**
 * The key set jose verifies with, per verification, made again only when the JWKS changes (a rotation, a key
 * retired past its grace period): jose keeps the keys it imported in the key set.
 */
const keySets = new WeakMap<TokenVerification, { json: string; keySet: ReturnType<typeof createLocalJWKSet> }>();

function keySetOf(verification: TokenVerification): ReturnType<typeof createLocalJWKSet> {
  const jwks = verification.jwks();
  const json = JSON.stringify(jwks);
  let cached = keySets.get(verification);
  if (cached?.json !== json) {
    cached = { json, keySet: createLocalJWKSet(jwks) };
    keySets.set(verification, cached);
  }
  return cached.keySet;
}

const FIX = 'Mint a new one with `npm run token` (or use those npm start printed).';

function refuse(code: JwtRefusalCode, message: string, scopes: readonly string[] = []): { authorized: false; refusal: JwtRefusal } {
  const status = REFUSAL_STATUS[code];
  const error = code === 'INSUFFICIENT_SCOPE' ? 'insufficient_scope' : code === 'TOKEN_MISSING' ? undefined : 'invalid_token';
  const description = message.replace(/"/g, "'");
  const challenge = `Bearer scope="${scopes.join(' ')}"${error ? ` error="${error}" error_description="${description}"` : ''}`;
  return { authorized: false, refusal: { status, code, message, challenge } };
}

/**
 * A claim's value as API Gateway passes it in `jwt.claims`: every value a string; numbers and booleans in their
 * JSON form, a list as `[a b]` (space-separated in brackets), an object as `map[k:v ...]`, as the gateway formats them
 * (measured on AWS: aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock#803, floci-io/floci#2011).
 */
export function claimAsApiGatewayRendersIt(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(claimAsApiGatewayRendersIt).join(' ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([name, entry]) => `${name}:${claimAsApiGatewayRendersIt(entry)}`).join(' ')}]`;
  }
  return String(value);
}

function audienceAccepted(payload: JWTPayload, audiences: readonly string[]): boolean {
  if (payload.aud !== undefined) return (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).some((aud) => audiences.includes(aud));
  return typeof payload.client_id === 'string' && audiences.includes(payload.client_id);
}

const when = (epochSeconds: unknown) => (typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : String(epochSeconds));

/** The refusal for what jose refused, saying what to fix. */
function refusalFor(error: unknown, verification: TokenVerification, kid: string): JwtDecision {
  if (error instanceof errors.JWTExpired) return refuse('TOKEN_EXPIRED', `The token expired at ${when(error.payload.exp)}. ${FIX}`);
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') {
      const given = error.payload.iss === undefined ? 'has no issuer (`iss`)' : `was issued by ${JSON.stringify(error.payload.iss)}`;
      return refuse('TOKEN_INVALID', `The token ${given}; this API trusts tokens of ${verification.issuer}. ${FIX}`);
    }
    if (error.claim === 'nbf') return refuse('TOKEN_INVALID', `The token is not valid before ${when(error.payload.nbf)}; send it from then on, or mint one valid now.`);
    if (error.claim === 'exp') return refuse('TOKEN_INVALID', `The token has no expiry (\`exp\`); this API accepts only tokens that expire. ${FIX}`);
    return refuse('TOKEN_INVALID', `The token's \`${error.claim}\` claim is not valid (${error.reason}). ${FIX}`);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return refuse('TOKEN_INVALID', `The token was signed with key ${JSON.stringify(kid)}, which the issuer does not publish (a key retired more than 24 h ago, or another issuer's). ${FIX}`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return refuse('TOKEN_INVALID', `The token's signature does not verify with the issuer's key ${JSON.stringify(kid)}. ${FIX}`);
  if (error instanceof errors.JOSEAlgNotAllowed) return refuse('TOKEN_INVALID', `The token is not signed with an RSA algorithm (${RSA_ALGORITHMS.join(', ')}). ${FIX}`);
  if (error instanceof errors.JOSEError) return refuse('TOKEN_INVALID', `The token is not a valid JWT (${error.message}). ${FIX}`);
  throw error;
}

/**
 * The decision for one request to an authenticated route: `authorization` is the request's Authorization header,
 * `routeScopes` the scopes the route accepts (at least one needed; none: any valid token). Throws only what is
 * not a refusal (a bug).
 */
export async function authorizeJwt(authorization: string | undefined, routeScopes: readonly string[], verification: TokenVerification): Promise<JwtDecision> {
  const token = /^(?:Bearer\s+)?(\S+)\s*$/i.exec(authorization?.trim() ?? '')?.[1];
  if (!token || /^bearer$/i.test(token)) return refuse('TOKEN_MISSING', 'Send an Authorization header: "Bearer <token>" (npm start prints tokens; `npm run token` mints more).', routeScopes);
  let kid: string;
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.kid !== 'string' || header.kid === '') return refuse('TOKEN_INVALID', `The token's header names no signing key (\`kid\`). ${FIX}`);
    kid = header.kid;
  } catch {
    return refuse('TOKEN_INVALID', `The token is not a JWT (three base64url parts: header, claims, signature). ${FIX}`);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keySetOf(verification), {
      issuer: verification.issuer,
      algorithms: RSA_ALGORITHMS,
      requiredClaims: ['exp'],
      currentDate: verification.now(),
    }));
  } catch (error) {
    return refusalFor(error, verification, kid);
  }
  if (typeof payload.iat === 'number' && payload.iat > Math.floor(verification.now().getTime() / 1000)) {
    return refuse('TOKEN_INVALID', `The token claims to be issued in the future (\`iat\` ${when(payload.iat)}); check the issuer's clock.`);
  }
  if (!audienceAccepted(payload, verification.audiences)) {
    const given = payload.aud !== undefined ? `audience ${JSON.stringify(payload.aud)}` : payload.client_id !== undefined ? `client_id ${JSON.stringify(payload.client_id)} and no audience` : 'no audience';
    return refuse('TOKEN_INVALID', `The token has ${given}; this API accepts ${verification.audiences.join(', ')}. ${FIX}`);
  }
  const scopes = scopesOf(payload);
  const jwt = { claims: Object.fromEntries(Object.entries(payload).map(([name, value]) => [name, claimAsApiGatewayRendersIt(value)])), scopes: scopes.length ? scopes : null };
  if (routeScopes.length > 0 && !routeScopes.some((scope) => scopes.includes(scope))) {
    const { refusal } = refuse('INSUFFICIENT_SCOPE', `This route needs a token with scope ${routeScopes.join(' or ')}; this one has ${scopes.length ? scopes.join(', ') : 'no scope'}.`, routeScopes);
    return { authorized: false, refusal: { ...refusal, jwt } };
  }
  return { authorized: true, jwt };
}
