/**
 * The application's documents bucket, one prefix per tenant (`tenants/<tenantId>/`, DESIGN.md "Data sources"):
 * a data source of GDPR exports (and, later, of erasure). It belongs to the SaaS application, not to the
 * control plane, so the stack takes its name (`documentsBucketName`); without one, the stack creates it
 * (hardened as the export bucket is, access-logged into the export bucket's log bucket) and outputs its name
 * for the application to write to, as `npm start` does with its local `tenant-documents` bucket.
 *
 * The control plane's functions only read it (the export task): objects under `tenants/`, and under `vectors/`
 * where the vectors live in the local vector store (functions/data-sources/s3-vector-store.ts) because no
 * Pinecone is configured.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { grantUnderPrefixes, hardenedBucketProps } from './s3-prefix-grants';

/** Where the application keeps each tenant's documents (functions/data-sources/documents-source.ts defaultDocumentPrefix). */
export const DOCUMENTS_PREFIX = 'tenants/';
/** Where the local vector store keeps each tenant's vectors (functions/data-sources/s3-vector-store.ts). */
export const LOCAL_VECTORS_PREFIX = 'vectors/';

/** S3 bucket naming rules (Amazon S3 user guide, "General purpose bucket naming rules"), dots left out. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export interface DocumentsBucketProps {
  /**
   * The application's existing documents bucket, by name (in this stack's account).
   * @default - a bucket created by this stack
   */
  readonly bucketName?: string;
  /** Where a created bucket's server access logs go (prefix `documents-bucket/`). */
  readonly accessLogs: IBucket;
  /**
   * What happens to a created bucket when it leaves the stack (DESTROY also empties it). An existing bucket
   * is never touched.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class DocumentsBucket extends Construct {
  readonly bucket: IBucket;
  /** Whether this stack created the bucket (no `bucketName` given). */
  readonly created: boolean;

  constructor(scope: Construct, id: string, props: DocumentsBucketProps) {
    super(scope, id);
    if (props.bucketName !== undefined) {
      if (!BUCKET_NAME.test(props.bucketName)) {
        throw new Error(`documentsBucketName must be an S3 bucket name (3-63 lowercase letters, digits and hyphens), got '${props.bucketName}'.`);
      }
      this.bucket = Bucket.fromBucketName(this, 'Bucket', props.bucketName);
      this.created = false;
    } else {
      this.bucket = new Bucket(this, 'Bucket', {
        ...hardenedBucketProps(props.removalPolicy ?? RemovalPolicy.RETAIN),
        serverAccessLogsBucket: props.accessLogs,
        serverAccessLogsPrefix: 'documents-bucket/',
      });
      this.created = true;
    }
  }

  /**
   * Read the tenants' data under `prefixes` (GetObject, and ListBucket limited to them): the export task reads
   * documents (`tenants/`) and, without Pinecone, the local vector store (`vectors/`).
   */
  grantReadTenantData(grantee: IGrantable, prefixes: readonly string[]): void {
    grantUnderPrefixes(this.bucket, grantee, {
      objectActions: ['s3:GetObject'],
      prefixes,
      list: true,
      reason: `Each tenant's objects are under ${prefixes.map((prefix) => `${prefix}<tenant>/`).join(' and ')}, keys made by the application; the grant is read-only and bounded to those prefixes of the documents bucket.`,
    });
  }

  /** Let `grantee` list and delete (not read) the objects under `prefixes`: a hard delete's purge. */
  grantDeleteTenantData(grantee: IGrantable, prefixes: readonly string[]): void {
    grantUnderPrefixes(this.bucket, grantee, {
      objectActions: ['s3:DeleteObject'],
      prefixes,
      list: true,
      reason: `A hard delete purges each tenant's objects under ${prefixes.map((prefix) => `${prefix}<tenant>/`).join(' and ')}, keys made by the application; the grant is list and delete only, bounded to those prefixes of the documents bucket.`,
    });
  }
}
