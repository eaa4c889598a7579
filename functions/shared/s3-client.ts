/**
 * The S3 client, created once per module; its own module so that only the functions that use S3 bundle the
 * S3 SDK (cold init, bundle size).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { config } from './config';

let s3: S3Client | undefined;

/**
 * With an endpoint override (the local S3 server, LocalStack): path-style URLs, and checksums only when an
 * operation requires them. s3rver stores a streamed body with its aws-chunked framing otherwise
 * (TOOLCHAIN.md): a silently corrupted object. Locally it signs with the S3 server's own key (config.s3Credentials),
 * not the environment's DynamoDB Local key.
 */
export function getS3Client(): S3Client {
  s3 ??= new S3Client(
    config.s3Endpoint
      ? {
          region: config.region,
          endpoint: config.s3Endpoint,
          forcePathStyle: true,
          ...(config.s3Credentials ? { credentials: config.s3Credentials } : {}),
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          maxAttempts: 3,
        }
      : { region: config.region, maxAttempts: 3 },
  );
  return s3;
}
