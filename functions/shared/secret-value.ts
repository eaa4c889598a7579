/**
 * Something built from a Secrets Manager secret (a Stripe client, a Pinecone client): the secret is read on
 * first use, once per Lambda container, so no key ever sits in an environment variable or the template. A
 * failed read is not cached: the next call reads again.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { onFirstUse } from './on-first-use';

/** A Secrets Manager client, or how to make one on first use (getSecretsManager), so cold init does not load the SDK. */
export type SecretsManagerSource = SecretsManagerClient | (() => Promise<SecretsManagerClient>);

/**
 * The string value of secret `secretId` (GetSecretValue, AWSCURRENT); undefined when it has none (binary).
 * The SDK's command is loaded here, on first use. Throws what the SDK throws.
 */
export async function readSecretString(source: SecretsManagerSource, secretId: string): Promise<string | undefined> {
  const [client, { GetSecretValueCommand }] = await Promise.all([typeof source === 'function' ? source() : source, import('@aws-sdk/client-secrets-manager')]);
  return (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
}

export interface FromSecretOptions<T> {
  readonly secretArn: string;
  readonly secretsManager: SecretsManagerSource;
  /** What the secret holds, for the error message ("Stripe key"). */
  readonly holds: string;
  /** Build the thing from the secret's string (trimmed); may load its SDK first. */
  readonly build: (secret: string) => T | Promise<T>;
  /** The error a caller should see when the secret cannot be read (its port's transient error). */
  readonly unavailable: (message: string, cause: unknown) => Error;
}

/** A function that resolves to the thing built from the secret, reading the secret only the first time. */
export function fromSecret<T>(options: FromSecretOptions<T>): () => Promise<T> {
  return onFirstUse(() =>
    readSecretString(options.secretsManager, options.secretArn)
      .then((SecretString) => {
        if (!SecretString?.trim()) throw new Error(`Secret ${options.secretArn} holds no ${options.holds}.`);
        return options.build(SecretString.trim());
      })
      .catch((error: unknown) => {
        throw options.unavailable(`Could not read the ${options.holds} from Secrets Manager: ${(error as Error).message}`, error);
      }),
  );
}
