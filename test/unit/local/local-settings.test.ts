/**
 * The local stack's settings and `npm run token`: the data folder chosen by option, environment or default;
 * tokens minted from the command line by the data folder's issuer, which the local adapter's JWT authorizer
 * accepts, and bad arguments (an invalid tenant id among them) refused with the message the user sees.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeJwt } from 'jose';
import { DEFAULT_DATA_DIR, SIGNING_KEYS_FILE, TokenUsageError, localDataDir, localStripeWebhookSecret } from '../../../infra/local/local-settings';
import { LocalIssuer, TOKEN_USAGE, mintLocalToken, parseTokenTtl } from '../../../infra/local/local-issuer';
import { authorizeJwt } from '../../../infra/local/local-jwt-authorizer';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'local-settings-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Function: localDataDir', () => {
  it('should take --data-dir first, then LOCAL_DATA_DIR, then .local/ in the repository, as absolute paths', () => {
    expect(localDataDir('rel/dir', { LOCAL_DATA_DIR: '/from/env' })).toBe(resolve('rel/dir'));
    expect(localDataDir(undefined, { LOCAL_DATA_DIR: '/from/env' })).toBe('/from/env');
    expect(localDataDir('', {})).toBe(DEFAULT_DATA_DIR);
    expect(DEFAULT_DATA_DIR).toBe(join(__dirname, '..', '..', '..', '.local'));
  });
});

describe('Function: localStripeWebhookSecret', () => {
  it('should make a whsec_ secret once in a data folder, readable by its owner only, and answer the same one after', () => {
    const dataDir = join(root, 'data');
    const secret = localStripeWebhookSecret(dataDir, {});

    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(statSync(join(dataDir, 'stripe-webhook-secret')).mode & 0o777).toBe(0o600);
    expect(localStripeWebhookSecret(dataDir, {})).toBe(secret);
    expect(localStripeWebhookSecret(join(root, 'another'), {})).not.toBe(secret);
  });

  it('should take STRIPE_WEBHOOK_SECRET when given (the secret `stripe listen` prints), keeping nothing', () => {
    const dataDir = join(root, 'given');
    expect(localStripeWebhookSecret(dataDir, { STRIPE_WEBHOOK_SECRET: 'whsec_from_stripe_listen' })).toBe('whsec_from_stripe_listen');
    expect(() => statSync(join(dataDir, 'stripe-webhook-secret'))).toThrow();
  });

  it('should refuse a given value that is not a Stripe signing secret, saying what it must be', () => {
    expect(() => localStripeWebhookSecret(join(root, 'bad'), { STRIPE_WEBHOOK_SECRET: 'sk_test_123' })).toThrow(/STRIPE_WEBHOOK_SECRET must be a Stripe webhook signing secret, starting with whsec_/);
  });
});

/** The adapter's decision for a token on an operator-or-own-tenant route, against the data folder's issuer (at `at`). */
function decide(token: string, dataDir: string, at = new Date()) {
  const issuer = LocalIssuer.open(dataDir, { now: () => at });
  return authorizeJwt(`Bearer ${token}`, ['tenant-lifecycle/operator', 'tenant-lifecycle/tenant'], issuer);
}

describe('Function: mintLocalToken', () => {
  it('should mint an operator token by default and a tenant token, from the data folder issuer, each with its own subject', async () => {
    const dataDir = join(root, 'data');
    LocalIssuer.open(dataDir); // what npm start does on its first run
    const operator = mintLocalToken(['--data-dir', dataDir]);
    const tenant = mintLocalToken(['--tenant', 'acme-corp'], { LOCAL_DATA_DIR: dataDir });
    const named = mintLocalToken(['--operator', '--subject', 'ops@example.com', '--data-dir', dataDir]);

    expect(statSync(join(dataDir, SIGNING_KEYS_FILE)).mode & 0o777).toBe(0o600);
    expect(await decide(operator, dataDir)).toMatchObject({ authorized: true, jwt: { claims: { sub: `${userInfo().username}@${hostname()}`, scope: 'tenant-lifecycle/operator' }, scopes: ['tenant-lifecycle/operator'] } });
    expect(await decide(tenant, dataDir)).toMatchObject({ authorized: true, jwt: { claims: { sub: `acme-corp-app@${hostname()}`, tenant_id: 'acme-corp', scope: 'tenant-lifecycle/tenant' } } });
    expect(await decide(named, dataDir)).toMatchObject({ authorized: true, jwt: { claims: { sub: 'ops@example.com' } } });
  });

  it('should make a token expire after 1 h by default, or after --ttl', async () => {
    const dataDir = join(root, 'data');
    LocalIssuer.open(dataDir);
    const hour = mintLocalToken(['--data-dir', dataDir]);
    const half = mintLocalToken(['--ttl', '30m', '--data-dir', dataDir]);
    const { iat, exp } = decodeJwt(hour);
    expect((exp ?? 0) - (iat ?? 0)).toBe(3600);

    expect((await decide(half, dataDir, new Date(Date.now() + 29 * 60_000))).authorized).toBe(true);
    expect(await decide(half, dataDir, new Date(Date.now() + 31 * 60_000))).toMatchObject({ authorized: false, refusal: { status: 401, code: 'TOKEN_EXPIRED' } });
  });

  it("should be refused by another data folder's issuer (another key)", async () => {
    LocalIssuer.open(join(root, 'other'));
    const foreign = mintLocalToken(['--data-dir', join(root, 'other')]);
    expect(await decide(foreign, join(root, 'data'))).toMatchObject({ authorized: false, refusal: { status: 401, code: 'TOKEN_INVALID', message: expect.stringContaining('does not publish') } });
  });

  it('should refuse an invalid tenant id, saying so and minting nothing', () => {
    const dataDir = join(root, 'data');
    for (const bad of ['BAD_ID', 'a', '-acme', 'acme-corp-'])
      expect(() => mintLocalToken([`--tenant=${bad}`, '--data-dir', dataDir])).toThrow(new RegExp(`^'${bad}' is not a tenant id: it must be .*No token was minted\\.$`));
    expect(() => statSync(join(dataDir, SIGNING_KEYS_FILE))).toThrow();
  });

  it('should refuse both roles, an empty subject and a lifetime out of 1m-24h, with what to give instead', () => {
    const dataDir = join(root, 'data');
    expect(() => mintLocalToken(['--operator', '--tenant', 'acme-corp', '--data-dir', dataDir])).toThrow(new TokenUsageError(`Give --tenant <tenantId> or --operator, not both. ${TOKEN_USAGE}`));
    expect(() => mintLocalToken(['--subject', ' ', '--data-dir', dataDir])).toThrow(/--subject must name the user or client/);
    for (const ttl of ['0', '59', '25h', '-1', 'abc', '1d', '1.5h']) expect(() => mintLocalToken([`--ttl=${ttl}`, '--data-dir', dataDir])).toThrow(/^--ttl must be a lifetime from 1m to 24h/);
    expect([parseTokenTtl('60'), parseTokenTtl('90s'), parseTokenTtl('30m'), parseTokenTtl('24h')]).toEqual([60, 90, 1800, 86400]);
  });

  it('should refuse an unknown option as node does', () => {
    expect(() => mintLocalToken(['--operator', '--role', 'admin'])).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });
});
