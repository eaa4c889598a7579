/** SDK clients, created once per module (tests mock them with aws-sdk-client-mock or point them at DynamoDB Local). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from './config';

let dynamoDbClient: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;
let secretsManager: Promise<SecretsManagerClient> | undefined;

/** The DynamoDB client (what Powertools' idempotency persistence layer takes); the document client wraps it. */
export function getDynamoDbClient(): DynamoDBClient {
  dynamoDbClient ??= new DynamoDBClient({ region: config.region, endpoint: config.dynamoDbEndpoint, maxAttempts: 3 });
  return dynamoDbClient;
}

export function getDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(getDynamoDbClient(), { marshallOptions: { removeUndefinedValues: true } });
  return documentClient;
}

/** Secrets Manager; its SDK is loaded on the first call (a secret is read once per container), not at cold init. */
export function getSecretsManager(): Promise<SecretsManagerClient> {
  secretsManager ??= import('@aws-sdk/client-secrets-manager').then(({ SecretsManagerClient }) => new SecretsManagerClient({ region: config.region, endpoint: config.secretsManagerEndpoint }));
  return secretsManager;
}
