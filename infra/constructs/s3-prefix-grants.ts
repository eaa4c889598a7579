/**
 * S3 buckets of the stack and grants bounded to a key prefix: what the export bucket and the documents bucket
 * share. A grant on `<prefix>*` objects is a wildcard resource for cdk-nag (AwsSolutions-IAM5): it is
 * acknowledged on the grantee's policy only, for that very ARN, with the reason that bounds it.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { Grant, Role, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, BucketEncryption, ObjectOwnership, type BucketProps, type IBucket } from 'aws-cdk-lib/aws-s3';
import { acknowledgeWildcardResource } from './nag-acknowledgements';

/**
 * The settings every bucket of the stack has: SSE-S3, public access blocked, TLS only (aws:SecureTransport),
 * ACLs disabled, no versioning (a deletion, by lifecycle expiry or erasure, must really delete), and
 * emptied on stack deletion with RemovalPolicy.DESTROY only.
 */
export function hardenedBucketProps(removalPolicy: RemovalPolicy): BucketProps {
  return {
    encryption: BucketEncryption.S3_MANAGED,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    versioned: false,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy,
    autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
  };
}

export interface PrefixGrant {
  /** Object actions (s3:GetObject, s3:PutObject, ...) on `<prefix>*` of each prefix. */
  readonly objectActions: readonly string[];
  /** Key prefixes, each ending with `/`. */
  readonly prefixes: readonly string[];
  /** Also s3:ListBucket on the bucket, with the s3:prefix condition limiting listings to those prefixes. */
  readonly list: boolean;
  /** Why keys under the prefixes are made at run time and what bounds the grant (the IAM5 acknowledgement). */
  readonly reason: string;
}

/** Grant `grantee` `grant.objectActions` on the objects under `grant.prefixes` of `bucket` only (and listing them). */
export function grantUnderPrefixes(bucket: IBucket, grantee: IGrantable, grant: PrefixGrant): void {
  const objects = grant.prefixes.map((prefix) => {
    if (!prefix.endsWith('/')) throw new Error(`A key prefix of a grant ends with '/', got '${prefix}'.`);
    return bucket.arnForObjects(`${prefix}*`);
  });
  Grant.addToPrincipal({ grantee, actions: [...grant.objectActions], resourceArns: objects });
  if (grant.list) {
    Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': grant.prefixes.map((prefix) => `${prefix}*`) } },
    });
  }
  const policy = grantee.grantPrincipal instanceof Role ? grantee.grantPrincipal.node.tryFindChild('DefaultPolicy') : undefined;
  if (policy) for (const arn of objects) acknowledgeWildcardResource(policy, arn, grant.reason);
}
