import type { DynamoDbLocal } from '../../infra/local/dynamodb-local';
import type { S3Local } from '../../infra/local/s3-local';

export default async function globalTeardown(): Promise<void> {
  await Promise.all([
    (globalThis as { __DYNAMODB_LOCAL__?: DynamoDbLocal }).__DYNAMODB_LOCAL__?.stop(),
    (globalThis as { __S3_LOCAL__?: S3Local }).__S3_LOCAL__?.stop(),
  ]);
}
