/**
 * The local stack's token issuer: what Amazon Cognito (or the operator's own identity provider) is on AWS.
 * `npm start` serves its public keys (`GET /.well-known/jwks.json`, `/.well-known/openid-configuration`), the
 * local adapter verifies every request against them as API Gateway's JWT authorizer does (local-jwt-authorizer.ts),
 * and `npm run token`, the banner of `npm start` and the tests mint their tokens with it.
 *
 * Tokens are RS256 JWTs (API Gateway's JWT authorizer verifies RSA signatures only), access tokens shaped as
 * Cognito's: `iss`, `sub`, `aud`, `scope` (space-separated, RFC 8693 §4.2), the tenant claim for a tenant-scoped
 * caller (claimMapping()), `iat`, `exp`, `jti`, `token_use: access`.
 *
 * Keys rotate by `kid`: `rotate()` adds a new signing key and retires the current one; a retired key's public
 * half stays in the JWKS for MAX_TOKEN_TTL_SECONDS after its retirement (no token it signed can live longer),
 * then it is dropped. So a rotation logs nobody out, and a token outlives neither its `exp` nor its key.
 *
 * Reads configuration (JWT_AUDIENCE) at import: local-stack.ts imports it once the stack's environment is set.
 *
 * The signature is computed by node:crypto (RSASSA-PKCS1-v1_5 with SHA-256, which is RS256: RFC 7518 §3.3)
 * because `jose` signs only asynchronously and the test harness hands out tokens synchronously; everything that
 * decides whether a token is accepted (signature, claims, key selection) is `jose`'s, in the verifier.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RESOURCE_SERVER_IDENTIFIER, claimMapping, type ClaimMapping, type Principal } from '../../functions/auth/jwt-claims';
import { config } from '../../functions/shared/config';
import { tenantIdSchema } from '../../functions/tenants/tenant-schemas';
import { SIGNING_KEYS_FILE, TokenUsageError, localDataDir } from './local-settings';

/**
 * The local issuer's `iss`: a fixed name, not the API's URL, so tokens stay valid when the port changes
 * between runs (`PORT=4000 npm start`) and one token works against every local API of the same data folder.
 */
export const LOCAL_ISSUER = 'urn:tenant-lifecycle:local';
/** The audience the local issuer puts in `aud` and the local adapter requires unless JWT_AUDIENCE says otherwise: the resource server's identifier. */
export const LOCAL_AUDIENCE = RESOURCE_SERVER_IDENTIFIER;
/** A token's lifetime when none is asked for (`npm run token`): 1 hour, as Cognito's access tokens by default. */
export const DEFAULT_TOKEN_TTL_SECONDS = 60 * 60;
/** The longest lifetime a token may be given: 24 hours (Cognito's access tokens go up to 1 day as well). */
export const MAX_TOKEN_TTL_SECONDS = 24 * 60 * 60;
/** The shortest: 1 minute. */
export const MIN_TOKEN_TTL_SECONDS = 60;

/** One signing key of the issuer: its private JWK, when it was made and, once replaced, when it was retired (epoch seconds). */
interface SigningKey {
  readonly kid: string;
  readonly createdAt: number;
  readonly retiredAt?: number;
  readonly privateJwk: JsonWebKey;
}

/** A public key as the JWKS serves it (RFC 7517): no private member (`d`, `p`, `q`, `dp`, `dq`, `qi`). */
export interface PublicJwk {
  readonly kty: string;
  readonly n: string;
  readonly e: string;
  readonly kid: string;
  readonly alg: 'RS256';
  readonly use: 'sig';
}

/** What the local adapter verifies tokens with: the issuer and audiences it trusts, the JWKS, the wall clock. */
export interface TokenVerification {
  readonly issuer: string;
  readonly audiences: readonly string[];
  /** The JWKS as served now: the current key and the retired ones still within a token's lifetime. */
  jwks(): { keys: PublicJwk[] };
  /** The time tokens are judged at: the wall clock (never the local stack's simulated clock). */
  now(): Date;
  /** The OpenID provider metadata served at `/.well-known/openid-configuration` of `baseUrl`. */
  openIdConfiguration(baseUrl: string): Record<string, unknown>;
}

export interface LocalIssuerOptions {
  readonly issuer?: string;
  /** The `aud` of its tokens and the audience the adapter requires; JWT_AUDIENCE, else LOCAL_AUDIENCE. */
  readonly audience?: string;
  /** The wall clock; tests give another. */
  readonly now?: () => Date;
  /** The mapping of role and tenant to claims; claimMapping() (JWT_* variables) when omitted. */
  readonly mapping?: ClaimMapping;
}

export interface MintOptions {
  /** Seconds from now; DEFAULT_TOKEN_TTL_SECONDS when omitted, MIN_TOKEN_TTL_SECONDS to MAX_TOKEN_TTL_SECONDS. */
  readonly ttlSeconds?: number;
  /** Further claims (for example `client_id`); they may not replace the registered ones. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** A lifetime out of bounds, or a principal a token cannot be minted for; the message says what to give instead. */
export class TokenRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRequestError';
  }
}

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

function newSigningKey(createdAt: number): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid: `local-${randomUUID()}`, createdAt, privateJwk: privateKey.export({ format: 'jwk' }) };
}

/**
 * The subject `npm run token` and `npm start` give an operator when none is asked for: `<os user>@<host>`, so two
 * people's actions never share an `actor` in the audit trail.
 */
export function defaultOperatorSubject(): string {
  return `${userInfo().username}@${hostname()}`;
}

/** The subject of a tenant's application-plane client on this machine when none is asked for: `<tenantId>-app@<host>`. */
export function defaultTenantSubject(tenantId: string): string {
  return `${tenantId}-app@${hostname()}`;
}

/** The local issuer; `LocalIssuer.inMemory()` (tests) or `LocalIssuer.open(dataDir)` (npm start, npm run token). */
export class LocalIssuer implements TokenVerification {
  readonly issuer: string;
  readonly audience: string;
  readonly #now: () => Date;
  readonly #mapping: ClaimMapping | undefined;
  readonly #file: string | undefined;
  #keys: SigningKey[];
  readonly #privateKeys = new Map<string, KeyObject>();
  readonly #publicJwks = new Map<string, PublicJwk>();

  private constructor(keys: SigningKey[], file: string | undefined, options: LocalIssuerOptions) {
    this.issuer = options.issuer ?? LOCAL_ISSUER;
    this.audience = options.audience ?? config.jwtAudience ?? LOCAL_AUDIENCE;
    // eslint-disable-next-line no-restricted-syntax -- a credential's lifetime is judged on the wall clock, never a moved one
    this.#now = options.now ?? (() => new Date());
    this.#mapping = options.mapping;
    this.#file = file;
    this.#keys = keys;
  }

  /** An issuer with a fresh key, kept in memory only (the test harness's). */
  static inMemory(options: LocalIssuerOptions = {}): LocalIssuer {
    const issuer = new LocalIssuer([], undefined, options);
    issuer.#keys = [newSigningKey(epochSeconds(issuer.now()))];
    return issuer;
  }

  /**
   * The issuer of a data folder: its keys read from `<dataDir>/jwt-signing-keys.json`, made on first use. With
   * `rotate`, a new signing key is added first (see rotate()). Retired keys past a token's lifetime are dropped.
   */
  static open(dataDir: string, options: LocalIssuerOptions & { rotate?: boolean } = {}): LocalIssuer {
    const file = join(dataDir, SIGNING_KEYS_FILE);
    const keys = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { keys: SigningKey[] }).keys : [];
    const issuer = new LocalIssuer(keys, file, options);
    if (keys.length === 0 || options.rotate) issuer.rotate();
    else issuer.#prune();
    return issuer;
  }

  /** The audiences the local adapter accepts: this issuer's one. */
  get audiences(): readonly string[] {
    return [this.audience];
  }

  now(): Date {
    return this.#now();
  }

  /** The key new tokens are signed with. */
  get currentKid(): string {
    return this.#current().kid;
  }

  /**
   * Add a new signing key and retire the current one (its public key stays in the JWKS for MAX_TOKEN_TTL_SECONDS);
   * answers the new `kid`. A file-backed issuer writes its keys (mode 0600) before answering.
   */
  rotate(): string {
    const at = epochSeconds(this.now());
    const fresh = newSigningKey(at);
    this.#keys = [...this.#keys.map((key) => (key.retiredAt === undefined ? { ...key, retiredAt: at } : key)), fresh];
    this.#prune(true);
    return fresh.kid;
  }

  /** The public JWKS (RFC 7517 §5): the current key and every retired key a live token may still carry. */
  jwks(): { keys: PublicJwk[] } {
    return {
      keys: this.#live().map(({ kid, privateJwk }) => {
        let jwk = this.#publicJwks.get(kid);
        if (!jwk) {
          jwk = Object.freeze({ ...publicJwkOf(privateJwk), kid, alg: 'RS256', use: 'sig' } as const);
          this.#publicJwks.set(kid, jwk);
        }
        return jwk;
      }),
    };
  }

  /** The minimal OpenID provider metadata (OpenID Connect Discovery 1.0 §3) that leads a verifier to the JWKS. */
  openIdConfiguration(baseUrl: string): Record<string, unknown> {
    const mapping = this.#claimMapping();
    return { issuer: this.issuer, jwks_uri: `${baseUrl}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['RS256'], scopes_supported: [mapping.operatorScope, mapping.tenantScope] };
  }

  /**
   * A token for a principal: the operator scope, or the tenant scope and the tenant claim, as principalFromClaims
   * reads them back. Throws TokenRequestError for a lifetime out of bounds or a tenant principal without a tenant.
   */
  mint(principal: Principal, options: MintOptions = {}): string {
    const mapping = this.#claimMapping();
    if (principal.subject.trim() === '') throw new TokenRequestError('A token needs a subject (the audit trail names it as the actor).');
    if (principal.role === 'tenant' && !principal.tenantId) throw new TokenRequestError('A tenant-scoped token needs its tenant id.');
    const roleClaims = principal.role === 'operator' ? { scope: mapping.operatorScope } : { scope: mapping.tenantScope, [mapping.tenantClaim]: principal.tenantId };
    return this.sign({ ...options.claims, ...roleClaims, sub: principal.subject }, options.ttlSeconds);
  }

  /**
   * A compact JWS (RFC 7515 §7.1) over `claims` plus the registered ones this issuer sets (`iss`, `aud`, `iat`,
   * `exp`, `jti`, `token_use`), signed RS256 with the current key, its `kid` in the header.
   */
  sign(claims: Readonly<Record<string, unknown>>, ttlSeconds: number = DEFAULT_TOKEN_TTL_SECONDS): string {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < MIN_TOKEN_TTL_SECONDS || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
      throw new TokenRequestError(`A token's lifetime must be a whole number of seconds from ${MIN_TOKEN_TTL_SECONDS} to ${MAX_TOKEN_TTL_SECONDS} (24 h), got ${ttlSeconds}.`);
    }
    const key = this.#current();
    const iat = epochSeconds(this.now());
    const payload = { token_use: 'access', ...claims, iss: this.issuer, aud: this.audience, iat, exp: iat + ttlSeconds, jti: randomUUID() };
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signingInput = `${encode({ alg: 'RS256', typ: 'JWT', kid: key.kid })}.${encode(payload)}`;
    return `${signingInput}.${sign('sha256', Buffer.from(signingInput), this.#privateKey(key)).toString('base64url')}`;
  }

  #claimMapping(): ClaimMapping {
    return this.#mapping ?? claimMapping();
  }

  #current(): SigningKey {
    const current = this.#keys.find((key) => key.retiredAt === undefined);
    if (!current) throw new Error('The local issuer has no current signing key.');
    return current;
  }

  #privateKey(key: SigningKey): KeyObject {
    let object = this.#privateKeys.get(key.kid);
    if (!object) {
      object = createPrivateKey({ key: key.privateJwk, format: 'jwk' });
      this.#privateKeys.set(key.kid, object);
    }
    return object;
  }

  /** The keys whose public half is served: the current one and those retired less than a token's lifetime ago. */
  #live(): SigningKey[] {
    const now = epochSeconds(this.now());
    return this.#keys.filter((key) => key.retiredAt === undefined || key.retiredAt + MAX_TOKEN_TTL_SECONDS > now);
  }

  /** Forget the keys past their grace period; a file-backed issuer writes its keys when they changed (or `always`). */
  #prune(always = false): void {
    const live = this.#live();
    const changed = live.length !== this.#keys.length;
    this.#keys = live;
    if (this.#file && (changed || always)) this.#write(this.#file);
  }

  #write(file: string): void {
    mkdirSync(join(file, '..'), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ keys: this.#keys }, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  }
}

/** The public members of an RSA private JWK (node:crypto derives them; no private member is copied). */
function publicJwkOf(privateJwk: JsonWebKey): { kty: string; n: string; e: string } {
  const { kty, n, e } = createPublicKey({ key: privateJwk, format: 'jwk' }).export({ format: 'jwk' });
  return { kty: kty as string, n: n as string, e: e as string };
}

export const TOKEN_USAGE = 'usage: npm run token -- [--operator | --tenant <tenantId>] [--subject NAME] [--ttl 1h] [--data-dir PATH]';

/**
 * A token lifetime as `npm run token` takes it: seconds (`3600`, `3600s`), minutes (`30m`) or hours (`2h`), from
 * MIN_TOKEN_TTL_SECONDS to MAX_TOKEN_TTL_SECONDS (1 minute to 24 hours). Throws TokenUsageError otherwise.
 */
export function parseTokenTtl(value: string): number {
  const match = /^(\d+)([smh]?)$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600 }[match[2] as '' | 's' | 'm' | 'h'] : Number.NaN;
  if (!(seconds >= MIN_TOKEN_TTL_SECONDS && seconds <= MAX_TOKEN_TTL_SECONDS)) {
    throw new TokenUsageError(`--ttl must be a lifetime from 1m to 24h (seconds, or with s, m or h: 3600, 30m, 8h), got '${value}'.`);
  }
  return seconds;
}

/**
 * `npm run token`: a JWT from the local issuer of the data folder (`--data-dir`, LOCAL_DATA_DIR, .local/; its keys
 * made by `npm start`) for `--tenant <id>` (scope tenant-lifecycle/tenant and the `tenant_id` claim) or an operator
 * (the default, or `--operator`), expiring after `--ttl` (1 h by default, at most 24 h). The subject is `--subject`,
 * else one per person or client: `<os user>@<host>` for an operator, `<tenantId>-app@<host>` for a tenant's client.
 * Throws TokenUsageError (what to give instead) for an invalid tenant id, both roles, an empty subject, a
 * lifetime out of bounds or a data folder without an issuer (no local stack ran on it), and node's TypeError (code ERR_PARSE_ARGS_*) for an unknown option.
 */
export function mintLocalToken(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const { values } = parseArgs({
    args: [...args],
    options: { tenant: { type: 'string' }, operator: { type: 'boolean', default: false }, subject: { type: 'string' }, ttl: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  if (values.tenant !== undefined && values.operator) throw new TokenUsageError(`Give --tenant <tenantId> or --operator, not both. ${TOKEN_USAGE}`);
  if (values.tenant !== undefined) {
    const tenant = tenantIdSchema.safeParse(values.tenant);
    if (!tenant.success) throw new TokenUsageError(`'${values.tenant}' is not a tenant id: it ${tenant.error.issues[0]?.message ?? 'is not valid'}. No token was minted.`);
  }
  if (values.subject !== undefined && values.subject.trim() === '') throw new TokenUsageError('--subject must name the user or client (it is the audit trail\'s actor).');
  const ttlSeconds = values.ttl === undefined ? undefined : parseTokenTtl(values.ttl);
  const principal = values.tenant
    ? { subject: values.subject ?? defaultTenantSubject(values.tenant), role: 'tenant' as const, tenantId: values.tenant }
    : { subject: values.subject ?? defaultOperatorSubject(), role: 'operator' as const };
  const dataDir = localDataDir(values['data-dir'], env);
  // Only npm start makes an issuer: keys made here would sign tokens that no local API publishes (a mistyped folder).
  if (!existsSync(join(dataDir, SIGNING_KEYS_FILE))) {
    throw new TokenUsageError(
      `No local issuer in ${dataDir} (no ${SIGNING_KEYS_FILE}): start the local stack on this folder first (npm start -- --data-dir ${dataDir}), ` +
        'or give the folder npm start uses (--data-dir or LOCAL_DATA_DIR). No token was minted.',
    );
  }
  return LocalIssuer.open(dataDir).mint(principal, { ttlSeconds });
}
