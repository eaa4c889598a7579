/** SDK clients, created once per module (tests mock them with aws-sdk-client-mock or point them at DynamoDB Local). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from './config';

let documentClient: DynamoDBDocumentClient | undefined;
let secretsManager: SecretsManagerClient | undefined;

export function getDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamoDbEndpoint, maxAttempts: 3 }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  return documentClient;
}

export function getSecretsManager(): SecretsManagerClient {
  secretsManager ??= new SecretsManagerClient({ region: config.region, endpoint: config.secretsManagerEndpoint });
  return secretsManager;
}
