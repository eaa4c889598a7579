import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { WebhookSecretUnavailableError, stripeWebhookSecret } from '../../../functions/billing/stripe-webhook-signature';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-webhook-AbCdEf';
const secretsManager = mockClient(SecretsManagerClient);
const saved = { direct: process.env.STRIPE_WEBHOOK_SECRET, arn: process.env.STRIPE_WEBHOOK_SECRET_ARN };

afterEach(() => {
  secretsManager.reset();
  process.env.STRIPE_WEBHOOK_SECRET = saved.direct;
  if (saved.arn === undefined) delete process.env.STRIPE_WEBHOOK_SECRET_ARN;
  else process.env.STRIPE_WEBHOOK_SECRET_ARN = saved.arn;
});

describe('stripeWebhookSecret: where the signing secret comes from', () => {
  it('should read the Secrets Manager secret named by STRIPE_WEBHOOK_SECRET_ARN on AWS, once per container', async () => {
    delete process.env.STRIPE_WEBHOOK_SECRET;
    process.env.STRIPE_WEBHOOK_SECRET_ARN = SECRET_ARN;
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: 'whsec_from_secrets_manager' });

    expect(await stripeWebhookSecret()).toBe('whsec_from_secrets_manager');
    expect(await stripeWebhookSecret()).toBe('whsec_from_secrets_manager');
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('should prefer STRIPE_WEBHOOK_SECRET, and refuse with a message that says what to set when neither is there', async () => {
    process.env.STRIPE_WEBHOOK_SECRET = 'whsec_direct';
    expect(await stripeWebhookSecret()).toBe('whsec_direct');
    delete process.env.STRIPE_WEBHOOK_SECRET;
    delete process.env.STRIPE_WEBHOOK_SECRET_ARN;
    await expect(stripeWebhookSecret()).rejects.toThrow(WebhookSecretUnavailableError);
    await expect(stripeWebhookSecret()).rejects.toThrow(/set STRIPE_WEBHOOK_SECRET, or STRIPE_WEBHOOK_SECRET_ARN/);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
  });
});
