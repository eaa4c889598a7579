import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { BillingTransientError, type BillingPort, type PlanChangeRequest } from '../../../functions/billing/billing-port';
import { SecretKeyStripeBilling } from '../../../functions/billing/secret-billing';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-key-AbCdEf';
const REQUEST: PlanChangeRequest = { operationId: 'op-1', tenantId: 'acme', fromPlan: 'starter', toPlan: 'professional', direction: 'upgrade', timing: 'immediately' };
const secretsManager = mockClient(SecretsManagerClient);

function delegate(): BillingPort {
  return {
    name: 'stripe',
    previewPlanChange: jest.fn(async () => ({ source: 'stripe' as const, currency: 'usd', amountDueNow: 123, effectiveAt: 'now', lines: [] })),
    applyPlanChange: jest.fn(async () => ({ kind: 'subscription_updated' as const, effectiveAt: 'now', amountInvoiced: 123, currency: 'usd', references: {} })),
    revertPlanChange: jest.fn(async () => undefined),
    findAppliedChange: jest.fn(async () => undefined),
    listInvoices: jest.fn(async () => ({ invoices: [], hasMore: false })),
    cancelSubscription: jest.fn(async () => ({ cancelled: true, references: {} })),
    restoreSubscription: jest.fn(async () => undefined),
    deleteCustomer: jest.fn(async () => ({ deleted: true })),
    createCustomer: jest.fn(async () => undefined),
    retrieveSubscription: jest.fn(async () => undefined),
  };
}

describe('Class: SecretKeyStripeBilling', () => {
  beforeEach(() => secretsManager.reset());

  it('should read the Stripe key from Secrets Manager once and hand every call to the Stripe adapter built with it', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: 'sk_live_123\n' });
    const port = delegate();
    const create = jest.fn(() => port);
    const billing = new SecretKeyStripeBilling({ secretArn: SECRET_ARN, secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), create });

    expect((await billing.previewPlanChange(REQUEST)).amountDueNow).toBe(123);
    await billing.applyPlanChange(REQUEST);

    expect(create).toHaveBeenCalledTimes(1);
    expect(create).toHaveBeenCalledWith('sk_live_123');
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(port.applyPlanChange).toHaveBeenCalledWith(REQUEST);
  });

  it('should fail as a transient billing error (retried by the workflow) when the key cannot be read, and read again next time', async () => {
    secretsManager.on(GetSecretValueCommand).rejectsOnce(new Error('AccessDenied')).resolves({ SecretString: 'sk_live_123' });
    const billing = new SecretKeyStripeBilling({ secretArn: SECRET_ARN, secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), create: delegate });

    await expect(billing.applyPlanChange(REQUEST)).rejects.toBeInstanceOf(BillingTransientError);
    await expect(billing.applyPlanChange(REQUEST)).resolves.toMatchObject({ kind: 'subscription_updated' });
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });
});
