import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../infra/app';
import { ExportBucket, type ExportBucketProps } from '../../infra/constructs/export-bucket';
import { cdkOutdir, logicalId, removeCdkOutdirs, resourcesOf, statementsOfRole, synthContext, validationFindings } from '../support/cdk-template';

function build(props: ExportBucketProps = {}) {
  const app = new App({ outdir: cdkOutdir('export-bucket'), context: synthContext() });
  const stack = new Stack(app, 'ExportBucketTest');
  const exports = new ExportBucket(stack, 'Exports', props);
  const writer = new Role(stack, 'Writer', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  const reader = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  exports.grantWriteExports(writer);
  exports.grantDownload(reader);
  return { app, stack, exports, writer, reader };
}

afterAll(removeCdkOutdirs);

describe('Class: ExportBucket', () => {
  const { stack, exports, writer, reader } = build();
  const template = Template.fromStack(stack);
  const bucketId = logicalId(stack, exports.bucket);
  const logsId = logicalId(stack, exports.accessLogs);
  const bucket = template.toJSON().Resources[bucketId];

  it('should encrypt with S3-managed keys, block all public access and disable ACLs, on both buckets', () => {
    for (const [, resource] of resourcesOf(template, 'AWS::S3::Bucket')) {
      expect(resource.Properties).toMatchObject({
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
    }
    expect(resourcesOf(template, 'AWS::S3::Bucket')).toHaveLength(2);
  });

  it('should deny every request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('should expire exports after 30 days by default, abort unfinished uploads after a day, and keep no versions', () => {
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'expire-exports', ExpirationInDays: 30, Status: 'Enabled' },
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
    ]);
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(exports.retentionDays).toBe(30);
  });

  it('should log server access to the log bucket', () => {
    expect(bucket.Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'export-bucket/' });
  });

  it('should retain both buckets by default', () => {
    for (const [, resource] of resourcesOf(template, 'AWS::S3::Bucket')) expect(resource.DeletionPolicy).toBe('Retain');
  });

  it('should grant the writer put, get, delete and abort on exports/* and listing of exports/ only, and the downloader get only', () => {
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/exports/*']] };
    expect(statementsOfRole(template, logicalId(stack, writer))).toEqual([
      { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'], Resource: objects },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['exports/*'] } } },
    ]);
    expect(statementsOfRole(template, logicalId(stack, reader))).toEqual([{ Effect: 'Allow', Action: 's3:GetObject', Resource: objects }]);
  });

  it('should take the retention from its props (context exportRetentionDays), and refuse a retention that is not a whole number of days', () => {
    const seven = Template.fromStack(build({ retentionDays: 7 }).stack);
    seven.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([{ Id: 'expire-exports', ExpirationInDays: 7, Status: 'Enabled' }]) } });
    for (const bad of [0, -1, 1.5, Number.NaN, 4000]) expect(() => build({ retentionDays: bad })).toThrow(/whole number of days from 1 to 3650/);
  });

  it('should empty and delete both buckets with RemovalPolicy.DESTROY', () => {
    const destroyed = Template.fromStack(build({ removalPolicy: RemovalPolicy.DESTROY }).stack);
    for (const [, resource] of resourcesOf(destroyed, 'AWS::S3::Bucket')) expect(resource.DeletionPolicy).toBe('Delete');
    destroyed.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
  });

  it('should pass cdk-nag AwsSolutionsChecks with no unacknowledged finding', () => {
    const built = build();
    Validations.of(built.app).addPlugins(new AwsSolutionsChecks(built.app));
    const { findings, synthError } = validationFindings(built.app);
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
  });

  it('should report the access-log finding when the log bucket is not acknowledged (the check is live)', () => {
    const app = new App({ outdir: cdkOutdir('export-bucket'), context: synthContext() });
    const stack = new Stack(app, 'Unlogged');
    new Bucket(stack, 'Plain', { enforceSSL: true });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(validationFindings(app).findings.map((finding) => finding.rule)).toContain('AwsSolutions-S1');
  });

  it('should be in the stack, kept 30 days unless context exportRetentionDays says otherwise, which must be a whole number of days', () => {
    const expiry = (context: Record<string, unknown>) => {
      const { stack } = buildApp({ outdir: cdkOutdir('export-bucket'), context: synthContext(context), nag: false, variables: {} });
      return Template.fromStack(stack).toJSON().Resources[logicalId(stack, stack.exports.bucket)].Properties.LifecycleConfiguration.Rules[0];
    };
    expect(expiry({})).toEqual({ Id: 'expire-exports', ExpirationInDays: 30, Status: 'Enabled' });
    expect(expiry({ exportRetentionDays: '7' })).toMatchObject({ ExpirationInDays: 7 });
    for (const bad of ['0', 'a week', '1.5']) expect(() => expiry({ exportRetentionDays: bad })).toThrow(/exportRetentionDays must be a whole number of days/);
  });
});
