/** Where the local stack keeps its state and its secrets that survive restarts, and `npm run token`'s tokens. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tenantIdSchema } from '../../functions/tenants/tenant-schemas';
import { LocalIssuer, MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, defaultOperatorSubject, defaultTenantSubject } from './local-issuer';

/** The data folder when none is given: `.local/` in the repository (ignored by git). */
export const DEFAULT_DATA_DIR = join(__dirname, '..', '..', '.local');
export const LOCAL_TABLE_NAME = 'tenant-lifecycle';
/** The local S3 server's buckets: the application's documents (and the local vector store), and exports. */
export const LOCAL_DOCUMENTS_BUCKET = 'tenant-documents';
export const LOCAL_EXPORTS_BUCKET = 'tenant-exports';
export const TOKEN_USAGE = 'usage: npm run token -- [--operator | --tenant <tenantId>] [--subject NAME] [--ttl 1h] [--data-dir PATH]';

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
 * made on first use) for `--tenant <id>` (scope tenant-lifecycle/tenant and the `tenant_id` claim) or an operator
 * (the default, or `--operator`), expiring after `--ttl` (1 h by default, at most 24 h). The subject is `--subject`,
 * else one per person or client: `<os user>@<host>` for an operator, `<tenantId>-app@<host>` for a tenant's client.
 * Throws TokenUsageError (what to give instead) for an invalid tenant id, both roles, an empty subject or a
 * lifetime out of bounds, and node's TypeError (code ERR_PARSE_ARGS_*) for an unknown option.
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
  return LocalIssuer.open(localDataDir(values['data-dir'], env)).mint(principal, { ttlSeconds });
}
