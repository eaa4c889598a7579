/**
 * The authorizer as deployed: no TOKEN_SECRET, the key read from Secrets Manager (mocked SDK), cached.
 */
import { SECRET_ARN } from './deployed-authorizer-env';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { signToken } from '../../../functions/auth/api-tokens';
import * as authorizer from '../../../functions/auth/authorizer';

const KEY = 'deployment-token-key-from-secrets-manager';
const secretsManager = mockClient(SecretsManagerClient);

function eventWith(authorization?: string): APIGatewayRequestAuthorizerEventV2 {
  return { headers: authorization ? { authorization } : {} } as unknown as APIGatewayRequestAuthorizerEventV2;
}

beforeEach(() => {
  secretsManager.reset();
  secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: KEY });
});

describe('Function: authorizer handler', () => {
  it('should authorize a valid token and pass the principal as context, reading the key once', async () => {
    const token = signToken({ subject: 'app', role: 'tenant', tenantId: 'acme-corp' }, KEY);

    const first = await authorizer.handler(eventWith(`Bearer ${token}`));
    const second = await authorizer.handler(eventWith(`Bearer ${token}`));

    expect(first).toEqual({ isAuthorized: true, context: { subject: 'app', role: 'tenant', tenantId: 'acme-corp' } });
    expect(second.isAuthorized).toBe(true);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secretsManager).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ARN });
  });

  it('should deny a token signed with another key, and a request without a token', async () => {
    const forged = signToken({ subject: 'mallory', role: 'operator' }, 'a-different-key-entirely');
    expect((await authorizer.handler(eventWith(`Bearer ${forged}`))).isAuthorized).toBe(false);
    expect((await authorizer.handler(eventWith())).isAuthorized).toBe(false);
  });

  it('should say why it denied (for the local adapter), without exposing it to API Gateway', async () => {
    const decision = await authorizer.authorize(eventWith('Bearer nope'));
    expect(decision.denial?.code).toBe('TOKEN_INVALID');
    const gateway = await authorizer.handler(eventWith('Bearer nope'));
    expect(gateway).not.toHaveProperty('denial');
  });
});
