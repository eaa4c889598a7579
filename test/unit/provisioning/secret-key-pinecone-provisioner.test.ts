import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SecretKeyPineconeProvisioner } from '../../../functions/provisioning/pinecone-provisioner';
import { resourcesFor } from '../../../functions/provisioning/plan-resources';
import { ProvisioningTransientError, type ResourceProvisioner } from '../../../functions/provisioning/provisioner';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone-key-AbCdEf';
const secretsManager = mockClient(SecretsManagerClient);

function delegate(): ResourceProvisioner & { provision: jest.Mock; release: jest.Mock } {
  return { name: 'pinecone', provision: jest.fn(async () => undefined), release: jest.fn(async () => undefined) };
}

describe('Class: SecretKeyPineconeProvisioner', () => {
  beforeEach(() => secretsManager.reset());

  it('should read the Pinecone key from Secrets Manager once and hand every call to the provisioner built with it', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: ' pcsk_123\n' });
    const inner = delegate();
    const create = jest.fn(() => inner);
    const provisioner = new SecretKeyPineconeProvisioner({ secretArn: SECRET_ARN, secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), create });
    const resources = resourcesFor('acme', 'enterprise');

    // Act
    await provisioner.provision('acme', 'op-1', resources);
    await provisioner.release('acme', 'op-1');

    // Assess
    expect(create).toHaveBeenCalledTimes(1);
    expect(create).toHaveBeenCalledWith('pcsk_123');
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(inner.provision).toHaveBeenCalledWith('acme', 'op-1', resources, undefined);
    expect(inner.release).toHaveBeenCalledWith('acme', 'op-1');
  });

  it('should fail as a transient provisioning error (retried by the workflow) when the key cannot be read, and read again next time', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).rejectsOnce(new Error('AccessDenied')).resolves({ SecretString: 'pcsk_123' });
    const provisioner = new SecretKeyPineconeProvisioner({ secretArn: SECRET_ARN, secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), create: delegate });

    // Act & Assess
    await expect(provisioner.release('acme', 'op-1')).rejects.toBeInstanceOf(ProvisioningTransientError);
    await expect(provisioner.release('acme', 'op-1')).resolves.toBeUndefined();
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('should refuse an empty secret as a transient error naming the secret', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: '  ' });
    const provisioner = new SecretKeyPineconeProvisioner({ secretArn: SECRET_ARN, secretsManager: new SecretsManagerClient({ region: 'us-east-1' }), create: delegate });

    // Act & Assess
    await expect(provisioner.release('acme', 'op-1')).rejects.toThrow(`Secret ${SECRET_ARN} holds no Pinecone API key`);
  });
});
