/**
 * Where the API token key comes from, as an operator configures it: TOKEN_SECRET (local), TOKEN_SECRET_ARN
 * (AWS, read from Secrets Manager and cached five minutes), or neither (a deployment mistake that must say
 * which variable to set). Each case loads the modules afresh, because config reads the environment once.
 */
import type { SecretsManagerClient as SecretsManagerClientType } from '@aws-sdk/client-secrets-manager';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:token-key-AbCdEf';
const saved = { secret: process.env.TOKEN_SECRET, arn: process.env.TOKEN_SECRET_ARN };

afterEach(() => {
  jest.restoreAllMocks();
  for (const [name, value] of [['TOKEN_SECRET', saved.secret], ['TOKEN_SECRET_ARN', saved.arn]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** tokenKey and a mock of the Secrets Manager client class it uses, loaded with this environment. */
async function load(env: { TOKEN_SECRET?: string; TOKEN_SECRET_ARN?: string }) {
  delete process.env.TOKEN_SECRET;
  delete process.env.TOKEN_SECRET_ARN;
  Object.assign(process.env, env);
  // A fresh registry that stays in use: token-key loads the SDK on first use, after this returns.
  jest.resetModules();
  const sdk = await import('@aws-sdk/client-secrets-manager');
  const secretsManager: AwsClientStub<SecretsManagerClientType> = mockClient(sdk.SecretsManagerClient);
  const { tokenKey } = await import('../../../functions/auth/token-key');
  return { tokenKey, secretsManager, sdk };
}

describe('tokenKey', () => {
  it('should use TOKEN_SECRET as given, without calling Secrets Manager', async () => {
    const { tokenKey, secretsManager, sdk } = await load({ TOKEN_SECRET: 'local-key', TOKEN_SECRET_ARN: SECRET_ARN });
    await expect(tokenKey()).resolves.toBe('local-key');
    expect(secretsManager).not.toHaveReceivedCommand(sdk.GetSecretValueCommand);
  });

  it('should refuse, naming both variables, when neither TOKEN_SECRET nor TOKEN_SECRET_ARN is set', async () => {
    const { tokenKey } = await load({});
    await expect(tokenKey()).rejects.toMatchObject({ name: 'ConfigurationError', message: expect.stringMatching(/Set TOKEN_SECRET \(local\) or TOKEN_SECRET_ARN \(AWS\)/) });
  });

  it('should refuse a secret without a string value (a binary secret), naming it, and read it again next time', async () => {
    const { tokenKey, secretsManager, sdk } = await load({ TOKEN_SECRET_ARN: SECRET_ARN });
    secretsManager.on(sdk.GetSecretValueCommand).resolvesOnce({ SecretBinary: new Uint8Array([1, 2, 3]) }).resolves({ SecretString: 'fixed-key' });

    await expect(tokenKey()).rejects.toMatchObject({ name: 'ConfigurationError', message: `Secret ${SECRET_ARN} has no string value.` });
    await expect(tokenKey()).resolves.toBe('fixed-key');
    expect(secretsManager).toHaveReceivedCommandTimes(sdk.GetSecretValueCommand, 2);
  });

  it('should cache the key for five minutes, then read it again (a rotated key is picked up)', async () => {
    const { tokenKey, secretsManager, sdk } = await load({ TOKEN_SECRET_ARN: SECRET_ARN });
    secretsManager.on(sdk.GetSecretValueCommand).resolvesOnce({ SecretString: 'old-key' }).resolves({ SecretString: 'rotated-key' });
    const start = Date.now();
    const now = jest.spyOn(Date, 'now').mockReturnValue(start);

    await expect(tokenKey()).resolves.toBe('old-key');
    now.mockReturnValue(start + 5 * 60 * 1000 - 1);
    await expect(tokenKey()).resolves.toBe('old-key');
    expect(secretsManager).toHaveReceivedCommandTimes(sdk.GetSecretValueCommand, 1);
    now.mockReturnValue(start + 5 * 60 * 1000);
    await expect(tokenKey()).resolves.toBe('rotated-key');
    expect(secretsManager).toHaveReceivedCommandTimes(sdk.GetSecretValueCommand, 2);
    expect(secretsManager).toHaveReceivedCommandWith(sdk.GetSecretValueCommand, { SecretId: SECRET_ARN });
  });
});
