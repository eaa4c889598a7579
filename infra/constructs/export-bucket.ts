/**
 * The bucket GDPR exports are written to and downloaded from (presigned GET URLs), with its server access
 * log bucket.
 *
 * Choices:
 * - Encryption: SSE-S3 (S3-managed keys, AES-256). Exports are downloaded through presigned URLs signed by a
 *   function's role; with SSE-KMS every signer and the export writer would also need kms:Decrypt/GenerateDataKey
 *   on a key and its policy, for no reader the bucket policy does not already bound. A customer-managed key
 *   is the upgrade for teams that must revoke or audit decryption separately (CloudTrail data events).
 * - Versioning: off. An export is written once under keys unique to it (a retried step overwrites the same
 *   key on purpose), and the lifecycle expiry must really delete the personal data it holds: with versioning
 *   on, expiry would leave noncurrent versions behind (GDPR Art. 5(1)(e), storage limitation).
 * - Retention: objects expire `retentionDays` after they were written (30 by default; S3 lifecycle, rounded by
 *   S3 to the next midnight UTC); unfinished multipart uploads are aborted after one day.
 * - Public access blocked entirely, TLS only (aws:SecureTransport), ACLs disabled (bucket owner enforced).
 * - Server access logs (who downloaded what, when) go to a log bucket kept 365 days; that bucket does not log
 *   itself (acknowledged: AwsSolutions-S1).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { grantUnderPrefixes, hardenedBucketProps } from './s3-prefix-grants';

/** Where exports live in the bucket (functions/export/export-steps.ts `exportPrefix`). */
export const EXPORTS_PREFIX = 'exports/';
/** Default days an export is kept. */
export const DEFAULT_EXPORT_RETENTION_DAYS = 30;
/** Days the access logs of the export bucket are kept. */
export const EXPORT_ACCESS_LOG_RETENTION_DAYS = 365;

export interface ExportBucketProps {
  /**
   * Days an export is kept before S3 deletes it (context `exportRetentionDays`).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * What happens to the buckets when they leave the stack (DESTROY also empties them).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class ExportBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;
  readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: ExportBucketProps = {}) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? DEFAULT_EXPORT_RETENTION_DAYS;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > 3650) {
      throw new Error(`Export retention must be a whole number of days from 1 to 3650, got ${String(retentionDays)}.`);
    }
    this.retentionDays = retentionDays;
    const common = hardenedBucketProps(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(EXPORT_ACCESS_LOG_RETENTION_DAYS) }],
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: "This is the export bucket's server access log bucket; logging it would need a third bucket (and so on).",
    });
    this.bucket = new Bucket(this, 'Bucket', {
      ...common,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'export-bucket/',
      lifecycleRules: [
        { id: 'expire-exports', expiration: Duration.days(retentionDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }

  /**
   * The export task: write parts, manifests and READMEs (multipart uploads and their abort), read them back
   * (verification), list an export's keys and delete them (work objects, a failed export), under `exports/` only.
   */
  grantWriteExports(grantee: IGrantable): void {
    this.#grant(grantee, ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], true);
  }

  /** A failed export's clean-up (failExport): list its keys and delete them (DeleteObjects), under `exports/` only. */
  grantDeleteExports(grantee: IGrantable): void {
    this.#grant(grantee, ['s3:DeleteObject'], true);
  }

  /** Read exports: what a presigned download URL signed by `grantee` may fetch (GetObject on `exports/*` only). */
  grantDownload(grantee: IGrantable): void {
    this.#grant(grantee, ['s3:GetObject'], false);
  }

  #grant(grantee: IGrantable, objectActions: string[], list: boolean): void {
    grantUnderPrefixes(this.bucket, grantee, {
      objectActions,
      prefixes: [EXPORTS_PREFIX],
      list,
      reason: 'Exports are written and read under exports/<tenant>/<export id>/, keys made at run time; the grant is bounded to the exports/ prefix of this one bucket.',
    });
  }
}
