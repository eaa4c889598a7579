/**
 * A test file's own bucket on the local S3 server (s3rver; AWS_ENDPOINT_URL_S3 is set by the integration project),
 * named `<prefix>-<random>`, made the documents and exports bucket of the data-source registry built from
 * configuration (DOCUMENTS_BUCKET, EXPORTS_BUCKET: one bucket keeps a snapshot to one listing), signed with the
 * run's access key (the environment's: the only one the server accepts). Call `create()` in beforeAll, `s3.destroy()` in afterAll.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { localS3ClientConfig } from '../../infra/local/s3-local';

export function localS3Bucket(prefix: string): { readonly s3: S3Client; readonly bucket: string; create(): Promise<void> } {
  const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
  const bucket = `${prefix}-${randomBytes(4).toString('hex')}`;
  process.env.DOCUMENTS_BUCKET = bucket;
  process.env.EXPORTS_BUCKET = bucket;
  return { s3, bucket, create: async () => void (await s3.send(new CreateBucketCommand({ Bucket: bucket }))) };
}
