/**
 * The local stack's settings and `npm run token`: the data folder chosen by option, environment or default;
 * the token key made once per data folder and kept; tokens minted from the command line that the API's
 * authorizer accepts, and bad arguments refused with the message the user sees.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { verifyToken } from '../../../functions/auth/api-tokens';
import { DEFAULT_DATA_DIR, TOKEN_USAGE, TokenUsageError, localDataDir, localStripeWebhookSecret, localTokenKey, mintLocalToken } from '../../../infra/local/local-settings';

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

describe('Function: localTokenKey', () => {
  it('should make the key once in a new data folder, readable by its owner only, and answer the same key after', () => {
    const dataDir = join(root, 'new', 'folder');
    const key = localTokenKey(dataDir);

    expect(key).toMatch(/^[\w-]{43}$/); // 32 random bytes, base64url
    expect(statSync(join(dataDir, 'token-key')).mode & 0o777).toBe(0o600);
    expect(localTokenKey(dataDir)).toBe(key);
    expect(localTokenKey(join(root, 'another'))).not.toBe(key);
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

describe('Function: mintLocalToken', () => {
  it('should mint an operator token and a tenant token, signed with the data folder key, named as asked', () => {
    const dataDir = join(root, 'data');
    const key = localTokenKey(dataDir);

    expect(verifyToken(mintLocalToken(['--operator', '--data-dir', dataDir]), key)).toEqual({ subject: 'local-operator', role: 'operator' });
    expect(verifyToken(mintLocalToken(['--tenant', 'acme-corp'], { LOCAL_DATA_DIR: dataDir }), key)).toEqual({ subject: 'acme-corp-app', role: 'tenant', tenantId: 'acme-corp' });
    expect(verifyToken(mintLocalToken(['--operator', '--subject', 'ops@example.com', '--data-dir', dataDir]), key)).toEqual({ subject: 'ops@example.com', role: 'operator' });
  });

  it('should make a token expire after --ttl-hours', () => {
    const dataDir = join(root, 'data');
    const token = mintLocalToken(['--operator', '--ttl-hours', '0.5', '--data-dir', dataDir]);
    const key = localTokenKey(dataDir);

    expect(() => verifyToken(token, key, new Date(Date.now() + 29 * 60_000))).not.toThrow();
    expect(() => verifyToken(token, key, new Date(Date.now() + 31 * 60_000))).toThrow('The token has expired.');
  });

  it('should be accepted by the API authorizer running with the data folder key, and refused by one with another key', async () => {
    const dataDir = join(root, 'data');
    const token = mintLocalToken(['--tenant', 'acme-corp', '--data-dir', dataDir]);
    process.env.TOKEN_SECRET = localTokenKey(dataDir); // the authorizer reads its key at import, as npm start sets it
    const { authorize } = await import('../../../functions/auth/authorizer');

    expect(await authorize({ headers: { authorization: `Bearer ${token}` } })).toMatchObject({ isAuthorized: true, context: { subject: 'acme-corp-app', role: 'tenant', tenantId: 'acme-corp' } });
    const foreign = mintLocalToken(['--operator', '--data-dir', join(root, 'other')]);
    expect(await authorize({ headers: { authorization: `Bearer ${foreign}` } })).toMatchObject({ isAuthorized: false, denial: { code: 'TOKEN_INVALID' } });
  });

  it('should refuse arguments naming no role with the usage line, and a TTL that is not a positive number', () => {
    const dataDir = join(root, 'data');
    expect(() => mintLocalToken(['--data-dir', dataDir])).toThrow(new TokenUsageError(TOKEN_USAGE));
    expect(TOKEN_USAGE).toBe('usage: npm run token -- --operator | --tenant <tenantId> [--subject NAME] [--ttl-hours N] [--data-dir PATH]');
    for (const ttl of ['0', '-1', 'abc', 'NaN']) {
      expect(() => mintLocalToken(['--operator', `--ttl-hours=${ttl}`, '--data-dir', dataDir])).toThrow(new TokenUsageError('--ttl-hours must be a positive number'));
    }
  });

  it('should refuse an unknown option as node does', () => {
    expect(() => mintLocalToken(['--operator', '--role', 'admin'])).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });
});
