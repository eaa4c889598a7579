/**
 * Where the local stack keeps its state and the secrets that survive restarts. Reads no configuration at import
 * (local-stack.ts sets the handlers' environment after importing this).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newLocalCredentials, type LocalCredentials } from './loopback-env';

/** The data folder when none is given: `.local/` in the repository (ignored by git). */
export const DEFAULT_DATA_DIR = join(__dirname, '..', '..', '.local');
export const LOCAL_TABLE_NAME = 'tenant-lifecycle';
/** The file of a data folder that keeps the token signing keys of the local issuer (private: file mode 0600). */
export const SIGNING_KEYS_FILE = 'jwt-signing-keys.json';
/**
 * The file of a data folder that keeps the access key the local stack's AWS clients sign with (private: file mode
 * 0600): `{ accessKeyId, secretAccessKey, region }`, see localAwsCredentials.
 */
export const LOCAL_AWS_CREDENTIALS_FILE = 'aws-credentials.json';
/** The local S3 server's buckets: the application's documents (and the local vector store), and exports. */
export const LOCAL_DOCUMENTS_BUCKET = 'tenant-documents';
export const LOCAL_EXPORTS_BUCKET = 'tenant-exports';

/** `npm run token` (or a setting) was given a value it cannot use; the message says what to give instead. */
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

/** The local stack's AWS key and region: its DynamoDB Local database is the one of this key id and region. */
export interface LocalAwsCredentials extends LocalCredentials {
  readonly region: string;
}

/**
 * The access key of a data folder: made once (newLocalCredentials, with the region `AWS_REGION` names then, else
 * us-east-1) and kept in `<dataDir>/aws-credentials.json` (mode 0600; a wider mode is narrowed), so the database
 * DynamoDB Local keeps for that key and region (`<accessKeyId>_<region>.db`) is found again at the next start. The
 * key keeps the data from anyone else who reaches DynamoDB Local's port (it listens on every interface where it
 * cannot be bound to loopback, and checks no signature). Throws TokenUsageError for a file that is not such a key.
 */
export function localAwsCredentials(dataDir: string = localDataDir(), env: NodeJS.ProcessEnv = process.env): LocalAwsCredentials {
  const file = join(dataDir, LOCAL_AWS_CREDENTIALS_FILE);
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(file)) {
    const made: LocalAwsCredentials = { ...newLocalCredentials(), region: env.AWS_REGION || 'us-east-1' };
    writeFileSync(file, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  let kept: Partial<Record<keyof LocalAwsCredentials, unknown>> = {};
  try {
    kept = JSON.parse(readFileSync(file, 'utf8')) as typeof kept;
  } catch {
    // refused below
  }
  const { accessKeyId, secretAccessKey, region } = kept;
  if (typeof accessKeyId !== 'string' || !/^[A-Z0-9]{16,128}$/.test(accessKeyId) || typeof secretAccessKey !== 'string' || !secretAccessKey || typeof region !== 'string' || !/^[a-z0-9-]+$/.test(region)) {
    throw new TokenUsageError(`${file} is not the local stack's AWS key ({ accessKeyId, secretAccessKey, region }): restore it, or delete it and start over with npm start -- --reset (the database kept under the old key is then not read).`);
  }
  return { accessKeyId, secretAccessKey, region };
}
