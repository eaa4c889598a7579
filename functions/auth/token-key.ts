/** The HMAC key for API tokens: given directly (local) or read once from Secrets Manager (AWS) and cached. */
import { getSecretsManager } from '../shared/aws-clients';
import { ConfigurationError, config } from '../shared/config';
import { readSecretString } from '../shared/secret-value';

const CACHE_MS = 5 * 60 * 1000;
let cached: { key: string; at: number } | undefined;

export async function tokenKey(): Promise<string> {
  if (config.tokenSecret) return config.tokenSecret;
  if (!config.tokenSecretArn) throw new ConfigurationError('Set TOKEN_SECRET (local) or TOKEN_SECRET_ARN (AWS) to verify API tokens.');
  // eslint-disable-next-line no-restricted-syntax -- a cache's age, a duration
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.key;
  const SecretString = await readSecretString(getSecretsManager, config.tokenSecretArn);
  if (!SecretString) throw new ConfigurationError(`Secret ${config.tokenSecretArn} has no string value.`);
  // eslint-disable-next-line no-restricted-syntax -- a cache's age, a duration
  cached = { key: SecretString, at: Date.now() };
  return SecretString;
}
