/**
 * Starts one DynamoDB Local (in memory) and one local S3 server for the integration project; each test file
 * makes its own table (and its own buckets). The run has an access key of its own (newLocalCredentials), which the
 * workers inherit: DynamoDB Local keeps the run's tables under it; and the S3 server another key of its own, which
 * it accepts alone (useLocalS3Credentials: a presigned URL shows its id, which must not open DynamoDB Local).
 */
import { startDynamoDbLocal } from '../../infra/local/dynamodb-local';
import { startS3Local } from '../../infra/local/s3-local';
import { applyLoopbackEnvironment, newLocalCredentials, useLocalCredentials, useLocalS3Credentials } from '../../infra/local/loopback-env';

export default async function globalSetup(): Promise<void> {
  // Pointed at another DynamoDB (LocalStack: AWS_ENDPOINT_URL=http://localhost:4566): use it, start nothing.
  if (process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL) return;
  useLocalCredentials(newLocalCredentials());
  useLocalS3Credentials(newLocalCredentials());
  applyLoopbackEnvironment();
  const [dynamo, s3] = await Promise.all([startDynamoDbLocal(), startS3Local()]);
  (globalThis as { __DYNAMODB_LOCAL__?: unknown }).__DYNAMODB_LOCAL__ = dynamo;
  (globalThis as { __S3_LOCAL__?: unknown }).__S3_LOCAL__ = s3;
  // Workers inherit these: the suite is endpoint-agnostic, so a LocalStack run sets AWS_ENDPOINT_URL instead.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
}
