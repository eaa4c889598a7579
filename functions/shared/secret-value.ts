/**
 * Something built from a Secrets Manager secret (a Stripe client, a Pinecone client): the secret is read on
 * first use, once per Lambda container, so no key ever sits in an environment variable or the template. A
 * failed read is not cached: the next call reads again.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { onFirstUse } from './on-first-use';

export interface FromSecretOptions<T> {
  readonly secretArn: string;
  readonly secretsManager: SecretsManagerClient;
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
    options.secretsManager
      .send(new GetSecretValueCommand({ SecretId: options.secretArn }))
      .then(({ SecretString }) => {
        if (!SecretString?.trim()) throw new Error(`Secret ${options.secretArn} holds no ${options.holds}.`);
        return options.build(SecretString.trim());
      })
      .catch((error: unknown) => {
        throw options.unavailable(`Could not read the ${options.holds} from Secrets Manager: ${(error as Error).message}`, error);
      }),
  );
}
