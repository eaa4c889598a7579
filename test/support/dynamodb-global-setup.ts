/** Starts one DynamoDB Local (in memory) for the integration project; each test file makes its own table. */
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local';
import { applyLoopbackEnvironment } from '../../infra/local/loopback-env';

export default async function globalSetup(): Promise<void> {
  // Pointed at another DynamoDB (LocalStack: AWS_ENDPOINT_URL=http://localhost:4566): use it, start nothing.
  if (process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL) return;
  applyLoopbackEnvironment();
  const dynamo = await startDynamoDbLocal();
  (globalThis as { __DYNAMODB_LOCAL__?: unknown }).__DYNAMODB_LOCAL__ = dynamo;
  // Workers inherit this: the suite is endpoint-agnostic, so a LocalStack run sets AWS_ENDPOINT_URL instead.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
}
