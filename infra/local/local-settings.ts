/** Where the local stack keeps its state, the token key that survives restarts, and tokens signed with it. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { signToken } from '../../functions/auth/api-tokens';

/** The data folder when none is given: `.local/` in the repository (ignored by git). */
export const DEFAULT_DATA_DIR = join(__dirname, '..', '..', '.local');
export const LOCAL_TABLE_NAME = 'tenant-lifecycle';
/** The local S3 server's buckets: the application's documents (and the local vector store), and exports. */
export const LOCAL_DOCUMENTS_BUCKET = 'tenant-documents';
export const LOCAL_EXPORTS_BUCKET = 'tenant-exports';
export const TOKEN_USAGE = 'usage: npm run token -- --operator | --tenant <tenantId> [--subject NAME] [--ttl-hours N] [--data-dir PATH]';

/** `npm run token` was given arguments it cannot mint from; the message says what to give instead. */
export class TokenUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenUsageError';
  }
}

/** The data folder, as an absolute path: `--data-dir`, else `LOCAL_DATA_DIR`, else `.local/`. */
export function localDataDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option || env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR);
}

/** `--clock` / LOCAL_CLOCK: the wall clock (default), or one an operator moves forward (infra/local/local-clock.ts). */
export const CLOCK_MODES = ['wall', 'simulated'] as const;
export type ClockMode = (typeof CLOCK_MODES)[number];

/** The clock mode: `--clock`, else `LOCAL_CLOCK`, else `wall`; undefined for a value that is neither mode. */
export function localClockMode(option?: string, env: NodeJS.ProcessEnv = process.env): ClockMode | undefined {
  const value = option || env.LOCAL_CLOCK || 'wall';
  return (CLOCK_MODES as readonly string[]).includes(value) ? (value as ClockMode) : undefined;
}

/** The local token key of a data folder: made once, kept there so printed tokens keep working across restarts. */
export function localTokenKey(dataDir: string = localDataDir()): string {
  const file = join(dataDir, 'token-key');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * The Stripe webhook signing secret the local stack verifies `POST /webhooks/stripe` with: STRIPE_WEBHOOK_SECRET
 * when given (for example the one `stripe listen` prints, so its forwarded events verify), else one made once per
 * data folder (`whsec_` and 32 random bytes in hex) and kept there, so events signed with it keep verifying across
 * restarts. Throws TokenUsageError when a given value is not a `whsec_` secret.
 */
export function localStripeWebhookSecret(dataDir: string = localDataDir(), env: NodeJS.ProcessEnv = process.env): string {
  const given = env.STRIPE_WEBHOOK_SECRET;
  if (given) {
    if (!/^whsec_\S+$/.test(given)) throw new TokenUsageError('STRIPE_WEBHOOK_SECRET must be a Stripe webhook signing secret, starting with whsec_ (or leave it unset and npm start makes one).');
    return given;
  }
  const file = join(dataDir, 'stripe-webhook-secret');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(file)) writeFileSync(file, `whsec_${randomBytes(32).toString('hex')}`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * `npm run token`: a token for `--operator` or `--tenant <id>` (subject `--subject`, else `local-operator` or
 * `<id>-app`), expiring after `--ttl-hours` (none when omitted), signed with the key of the data folder
 * (`--data-dir`, LOCAL_DATA_DIR, .local/). Throws TokenUsageError when neither role is given or the TTL is not
 * a positive number, and node's TypeError (code ERR_PARSE_ARGS_*) for an unknown option.
 */
export function mintLocalToken(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const { values } = parseArgs({
    args: [...args],
    options: { tenant: { type: 'string' }, operator: { type: 'boolean', default: false }, subject: { type: 'string' }, 'ttl-hours': { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  if (!values.tenant && !values.operator) throw new TokenUsageError(TOKEN_USAGE);
  const ttlHours = values['ttl-hours'] === undefined ? undefined : Number(values['ttl-hours']);
  if (ttlHours !== undefined && !(ttlHours > 0)) throw new TokenUsageError('--ttl-hours must be a positive number');
  const principal = values.tenant
    ? { subject: values.subject ?? `${values.tenant}-app`, role: 'tenant' as const, tenantId: values.tenant }
    : { subject: values.subject ?? 'local-operator', role: 'operator' as const };
  return signToken(principal, localTokenKey(localDataDir(values['data-dir'], env)), { ttlSeconds: ttlHours === undefined ? undefined : Math.round(ttlHours * 3600) });
}
