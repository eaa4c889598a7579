/**
 * Something built from a Secrets Manager secret (a Stripe client, a Pinecone client, the webhook signing secret),
 * so that no key ever sits in an environment variable or the template, and a rotated key is picked up by warm
 * containers:
 * - the secret is read on first use through Powertools Parameters' `SecretsProvider` (its SDK and ours loaded
 *   then, not at cold init) and cached for `config.secretMaxAgeSeconds` (POWERTOOLS_PARAMETERS_MAX_AGE, default
 *   300 s), then read again on the next use: a rotation reaches every container within that time without any
 *   error (https://docs.powertools.aws.dev/lambda/typescript/latest/features/parameters/#adjusting-cache-ttl);
 * - a call that fails because the provider refused the key (`isAuthFailure`: Stripe's 401, Pinecone's 401, a
 *   webhook signature that does not verify) makes one forced re-read (`forceFetch`), and when the secret changed
 *   the call is made once more with the new value. A second failure is the call's error. Forced re-reads of one
 *   secret are shared while one is in flight and made at most once per SECRET_FORCED_REFRESH_INTERVAL_SECONDS, so
 *   a flood of bad keys or forged signatures cannot turn into a flood of GetSecretValue calls.
 * A failed read is not cached: the next call reads again.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { config } from './config';
import { onFirstUse } from './on-first-use';

/** A Secrets Manager client, or how to make one on first use (getSecretsManager), so cold init does not load the SDK. */
export type SecretsManagerSource = SecretsManagerClient | (() => Promise<SecretsManagerClient>);

/**
 * The shortest time between two forced re-reads of one secret, in seconds. Short beside a rotation (a container
 * whose key was just revoked fails for at most this long), long beside a burst of refused calls.
 */
export const SECRET_FORCED_REFRESH_INTERVAL_SECONDS = 30;

/**
 * A thing built from a secret: call it for the thing (secret cached up to its max age), or `use` it to make a call
 * that is retried once with a re-read secret when it fails as the provider's refusal of the key.
 */
export interface SecretBacked<T> {
  (): Promise<T>;
  /** `call(thing)`; on an authentication failure, the secret re-read (forced) and `call` once more if it changed. */
  readonly use: <R>(call: (value: T) => Promise<R>) => Promise<R>;
}

/**
 * `call` with what `source` gives; with the re-read and retry of SecretBacked.use when `source` is one (a key from
 * the environment has nothing to re-read).
 */
export function callWith<T, R>(source: () => Promise<T>, call: (value: T) => Promise<R>): Promise<R> {
  const use = (source as Partial<SecretBacked<T>>).use;
  return use ? use(call) : source().then(call);
}

/** What `build` makes, once (onFirstUse), as a SecretBacked with nothing to re-read: a key given in the environment. */
export function builtOnce<T>(build: () => Promise<T>): SecretBacked<T> {
  const get = onFirstUse(build);
  return Object.assign(get, { use: <R>(call: (value: T) => Promise<R>) => get().then(call) });
}

/**
 * `source`'s thing made into another (`make`, once per thing: a provisioner over a Pinecone client), keeping its
 * re-read and retry.
 */
export function mapSecretBacked<T extends object, U>(source: SecretBacked<T>, make: (value: T) => U): SecretBacked<U> {
  const made = new WeakMap<T, U>();
  const of = (value: T): U => {
    if (!made.has(value)) made.set(value, make(value));
    return made.get(value) as U;
  };
  return Object.assign(async () => of(await source()), { use: <R>(call: (value: U) => Promise<R>) => source.use((value) => call(of(value))) });
}

/** Whether `error` or any error in its `cause` chain passes `test` (a port's error wrapping the SDK's). */
export function causedBy(error: unknown, test: (error: { name?: unknown; type?: unknown; statusCode?: unknown; status?: unknown }) => boolean): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 10; current = (current as { cause?: unknown }).cause, depth += 1) {
    if (test(current as object)) return true;
  }
  return false;
}

export interface FromSecretOptions<T> {
  readonly secretArn: string;
  readonly secretsManager: SecretsManagerSource;
  /** What the secret holds, for the error message ("Stripe key"). */
  readonly holds: string;
  /** Build the thing from the secret's string (trimmed); may load its SDK first. Called again when the secret changes. */
  readonly build: (secret: string) => T | Promise<T>;
  /** The error a caller should see when the secret cannot be read (its port's transient error). */
  readonly unavailable: (message: string, cause: unknown) => Error;
  /** Whether a call's error is the provider refusing the key (then `use` re-reads the secret once). Never, when absent. */
  readonly isAuthFailure?: (error: unknown) => boolean;
}

/**
 * The thing built from secret `secretArn` (GetSecretValue, AWSCURRENT, through Powertools' SecretsProvider on
 * `secretsManager`), re-read after `config.secretMaxAgeSeconds` and, through `use`, after an authentication
 * failure (see the module comment). The thing is rebuilt only when the secret's value changed. Rejects with
 * `unavailable(...)` when the secret cannot be read or holds no string.
 */
export function fromSecret<T>(options: FromSecretOptions<T>): SecretBacked<T> {
  const provider = onFirstUse(async (): Promise<SecretsProvider> => {
    const source = options.secretsManager;
    const [client, { SecretsProvider }] = await Promise.all([typeof source === 'function' ? source() : source, import('@aws-lambda-powertools/parameters/secrets')]);
    return new SecretsProvider({ awsSdkV3Client: client });
  });
  let built: { readonly secret: string; readonly value: Promise<T> } | undefined;
  let refreshing: Promise<string> | undefined;
  let lastForcedAt = Number.NEGATIVE_INFINITY;

  async function read(forceFetch: boolean): Promise<string> {
    try {
      const value = await (await provider()).get(options.secretArn, { maxAge: config.secretMaxAgeSeconds, forceFetch });
      const secret = typeof value === 'string' ? value.trim() : '';
      if (!secret) throw new Error(`Secret ${options.secretArn} holds no ${options.holds}.`);
      return secret;
    } catch (error) {
      const cause = (error as Error).cause ?? error;
      throw options.unavailable(`Could not read the ${options.holds} from Secrets Manager: ${(cause as Error).message}`, cause);
    }
  }

  function thingFor(secret: string): Promise<T> {
    if (built?.secret !== secret) {
      const value = Promise.resolve(secret).then(options.build);
      const entry = { secret, value };
      built = entry;
      // A failed build is not kept: the next call builds again.
      value.catch(() => {
        if (built === entry) built = undefined;
      });
    }
    return built.value;
  }

  /** A forced re-read, shared while in flight; undefined when one was made less than the interval ago. */
  function forcedRead(): Promise<string> | undefined {
    if (refreshing) return refreshing;
    // Real time, as the Powertools cache's expiry: a secret's age has nothing to do with the simulated clock.
    const now = Date.now(); // eslint-disable-line no-restricted-syntax
    if (now - lastForcedAt < SECRET_FORCED_REFRESH_INTERVAL_SECONDS * 1000) return undefined;
    lastForcedAt = now;
    const read$ = read(true).finally(() => {
      refreshing = undefined;
    });
    refreshing = read$;
    return read$;
  }

  async function use<R>(call: (value: T) => Promise<R>): Promise<R> {
    const secret = await read(false);
    try {
      return await call(await thingFor(secret));
    } catch (error) {
      if (!options.isAuthFailure?.(error)) throw error;
      // Within the interval, the cached value: another call's forced re-read may already have found the new one.
      const fresh = await (forcedRead() ?? read(false)).catch(() => secret);
      if (fresh === secret) throw error;
      return call(await thingFor(fresh));
    }
  }

  return Object.assign(async () => thingFor(await read(false)), { use });
}
