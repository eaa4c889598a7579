/** This test file's own lifecycle table on the integration project's DynamoDB: created before its tests, deleted after. */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from '../../functions/shared/config';
import { createTableInput } from '../../functions/tenants/tenant-table';

/** A document client on the test table (config.tableName), with beforeAll/afterAll hooks that create and drop it. */
export function useTestTable(): DynamoDBDocumentClient {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  beforeAll(async () => {
    await client.send(new CreateTableCommand(createTableInput(config.tableName)));
  });
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: config.tableName }));
    client.destroy();
  });
  return client;
}
